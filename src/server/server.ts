/**
 * `startServer`: open the database (embedded PGlite in the data directory, or PostgreSQL when a
 * URL is given), build the system, listen, and on first start mint the admin token and leave
 * it in `<dataDir>/admin-token` (mode 0600) for the CLI: exactly once across instances started
 * together on one PostgreSQL. `close()` shuts down gracefully; the `serve` command calls it on
 * SIGINT/SIGTERM.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, unlink, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { TesseraError } from '../errors.js';
import type { LogOption } from '../log.js';
import type { ClientIpSource } from '../hono/index.js';
import { ADMIN_AUDIENCE } from '../issuer/routes.js';
import { openDatabase, resolveMasterKey, type Database, type MasterKey } from '../storage/index.js';
import { createSystem, type System } from './system.js';
import { LOCK_KEYS } from '../storage/locks.js';
import { ADMIN_TOKEN_FILE, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, SERVER_URL_FILE } from './defaults.js';

export { ADMIN_TOKEN_FILE, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, SERVER_URL_FILE } from './defaults.js';
/** How long in-flight requests may take to finish once shutdown begins. */
const SHUTDOWN_GRACE_MS = 5000;
/** When keep-alive connections idle since before shutdown are closed. */
const IDLE_CLOSE_MS = 500;
/** Advisory lock serialising instances' startup on one database ("tessera" bootstrap). */
const BOOTSTRAP_LOCK_KEY = LOCK_KEYS.bootstrap;

export interface StartServerOptions {
  /** TCP port (0 for an ephemeral one; default 8470). */
  readonly port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Where the embedded database, master key and admin token live (default `.tessera`). */
  readonly dataDir?: string;
  /** PostgreSQL URL; when set the database is PostgreSQL (the data dir still holds the admin token). */
  readonly databaseUrl?: string | undefined;
  /** The master key; default TESSERA_MASTER_KEY, else `<dataDir>/master.key`. */
  readonly masterKey?: MasterKey;
  /** The URL clients reach this server at (token location); default http://<host>:<port>. */
  readonly publicUrl?: string;
  /** Revoked-set resync interval in ms (default 30 s). */
  readonly resyncMs?: number;
  /** The system's logger (SystemOptions.log); default the console. */
  readonly log?: LogOption;
  /** The client address for sign-in throttles and `client-ip` caveats (SystemOptions.clientIp); default the TCP peer. */
  readonly clientIp?: ClientIpSource;
}

export interface RunningServer {
  /** Where it listens, e.g. http://127.0.0.1:8470. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly system: System;
  /** The admin token, only when this start minted it (first start on an empty database). */
  readonly adminToken: string | undefined;
  /** Path of the admin token file. */
  readonly adminTokenFile: string;
  /** Stop listening, stop background work, close the database. Idempotent. */
  close(): Promise<void>;
}

function checkPort(port: number): number {
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new TesseraError('ERR_CONFIG', 'port must be an integer from 0 to 65535', { field: 'port' });
  }
  return port;
}

/** Write the admin token file: owner-only, never following or reusing an existing file. */
export async function writeAdminToken(path: string, token: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(`${token}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return;
    } catch (e) {
      // A file left by an earlier database, or an admin token being replaced: write it anew.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt === 0) {
        await unlink(path);
        continue;
      }
      throw new TesseraError('ERR_CONFIG', 'cannot write the admin token file', { field: ADMIN_TOKEN_FILE }, { cause: e });
    }
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const why = e.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use (choose another with --port or PORT)` : e.code === 'EACCES' ? `not allowed to listen on port ${port}` : `cannot listen on ${host}:${port}`;
      reject(new TesseraError('ERR_CONFIG', why, { field: 'port' }, { cause: e }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolvePort((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const port = checkPort(options.port ?? DEFAULT_PORT);
  const host = options.host ?? DEFAULT_HOST;
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const masterKey = options.masterKey ?? (await resolveMasterKey({ env: process.env.TESSERA_MASTER_KEY, dataDir }));
  const database: Database = await openDatabase({ url: options.databaseUrl, dataDir });

  // Listen before building the system, so the URL (and an ephemeral port) is known for the
  // tokens' location; requests wait until the system is ready.
  let system: System | undefined;
  let ready: (s: System) => void = () => undefined;
  const systemReady = new Promise<System>((r) => (ready = r));
  const server = createAdaptorServer({
    fetch: async (request, env) => (system ?? (await systemReady)).app.fetch(request, env),
    hostname: host,
  }) as Server;
  // Once shutdown begins, every answer not yet sent says `Connection: close`, so a keep-alive
  // client opens its next request elsewhere instead of sending it on a connection about to
  // close (where it would be cut unanswered).
  let draining = false;
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
      if (draining && !this.headersSent) this.setHeader('connection', 'close');
      return writeHead.apply(this, args);
    } as ServerResponse['writeHead'];
  });
  let boundPort: number;
  try {
    boundPort = await listen(server, port, host);
  } catch (e) {
    await database.close();
    throw e;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  const adminTokenFile = join(dataDir, ADMIN_TOKEN_FILE);
  let adminToken: string | undefined;
  try {
    // Instances started together on one database take turns here, so exactly one of them finds
    // no admin token and mints it (and the first root key is created once).
    const built = await database.withLock(BOOTSTRAP_LOCK_KEY, async () => {
      const s = await createSystem({ database, masterKey, publicUrl: options.publicUrl ?? url, ...(options.log !== undefined ? { log: options.log } : {}), ...(options.resyncMs !== undefined ? { resyncMs: options.resyncMs } : {}), ...(options.clientIp !== undefined ? { clientIp: options.clientIp } : {}) });
      system = s;
      // Bookkeeping: keys whose grace period ended while no server ran are recorded as retired.
      await s.keyring.retireExpired('startup');
      if ((await s.store.tokens.list({ subject: ADMIN_AUDIENCE, limit: 1 })).length > 0) return { s, token: undefined };
      const minted = await s.mintAdminToken('admin (first start)');
      await writeAdminToken(adminTokenFile, minted.token);
      return { s, token: minted.token };
    });
    system = built.s;
    adminToken = built.token;
    ready(built.s);
  } catch (e) {
    server.close();
    server.closeAllConnections();
    await system?.close();
    await database.close();
    throw e;
  }

  // The embedded database is this process's alone: say where it is served, for `tessera users`
  // run on the same data directory (it cannot open the database while this server holds it).
  const urlFile = options.databaseUrl === undefined ? join(dataDir, SERVER_URL_FILE) : undefined;
  if (urlFile !== undefined) await writeFile(urlFile, `${url}\n`, { mode: 0o600 }).catch(() => undefined);

  let closing: Promise<void> | undefined;
  const running = system;
  return Object.freeze({
    url,
    port: boundPort,
    dataDir,
    system: running,
    adminToken,
    adminTokenFile,
    close() {
      closing ??= (async () => {
        // Graceful: stop accepting; waiting long-polls answer `pending` at once (their clients
        // poll again, through the load balancer, on another instance); in-flight requests
        // finish, each answer closing its connection (for up to SHUTDOWN_GRACE_MS, then
        // connections are cut); then close.
        draining = true;
        await new Promise<void>((r) => {
          // net.Server's close, not http.Server's: the latter also closes at once every
          // connection it thinks idle, including one whose next request has arrived but is not
          // read yet (seen under load: requests sent before shutdown were cut unanswered).
          // Connections idle since before shutdown are closed a moment later.
          NetServer.prototype.close.call(server, () => r());
          running.discharge.close();
          setTimeout(() => server.closeIdleConnections(), IDLE_CLOSE_MS).unref();
          setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
        });
        await running.close();
        if (urlFile !== undefined) await unlink(urlFile).catch(() => undefined);
        await database.close();
      })();
      return closing;
    },
  });
}
