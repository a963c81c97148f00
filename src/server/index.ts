/** Running Tessera: the system composition (`createSystem`) and the server (`startServer`). */
export { createSystem } from './system.js';
export type { System, SystemOptions } from './system.js';
export { ADMIN_TOKEN_FILE, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, startServer } from './server.js';
export type { RunningServer, StartServerOptions } from './server.js';
