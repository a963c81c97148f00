/** Where `tessera serve` listens and keeps its files by default: shared with the CLI, which must not load the server to know them. */
export const DEFAULT_PORT = 8470;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = '.tessera';
/** File name of the admin token inside the data directory. */
export const ADMIN_TOKEN_FILE = 'admin-token';
/**
 * File in the data directory holding the URL a server on the embedded database listens on, while
 * it runs: `tessera users` finds the server there when the database is in use by it.
 */
export const SERVER_URL_FILE = 'server-url';
