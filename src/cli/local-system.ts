/**
 * The local database for the admin commands: the whole system built on it, for the local admin
 * actions that mint with the issuer's keys (`tessera admin-token`, `tessera users token` on a
 * stopped server: they need the master key, the data directory's or TESSERA_MASTER_KEY, and a
 * database a server has started on); and where `tessera users` and `tessera groups` act.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError, isTesseraError } from '../errors.js';
import { ADMIN_TOKEN_FILE, SERVER_URL_FILE } from '../server/defaults.js';
import type { System } from '../server/system.js';
import { MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, resolveMasterKey } from '../storage/keyring.js';
import type { Database, Store } from '../storage/index.js';
import type { ApiOptions } from './client.js';
import { str, type ParsedArgs } from './command.js';
import { adminTokenOf, serverUrlOf, type CliIO } from './io.js';
import { storageLayer, systemLayer } from './layers.js';

/** The local database: DATABASE_URL, else the embedded one in `dataDir` (through `io.openDatabase` when given). */
export async function openLocalDatabase(io: CliIO, dataDir: string): Promise<Database> {
  const url = io.env.DATABASE_URL !== undefined && io.env.DATABASE_URL !== '' ? io.env.DATABASE_URL : undefined;
  const open = io.openDatabase ?? (await storageLayer()).openDatabase;
  return open({ url, dataDir });
}

/** Run `fn` with the system over the local database (DATABASE_URL, else the embedded one in `dataDir`). */
export async function withLocalSystem<T>(io: CliIO, dataDir: string, publicUrl: string, fn: (system: System) => Promise<T>): Promise<T> {
  const envKey = io.env[MASTER_KEY_ENV];
  if ((envKey === undefined || envKey === '') && !existsSync(join(dataDir, MASTER_KEY_FILE))) {
    throw new TesseraError('ERR_CONFIG', `no master key in ${dataDir} and ${MASTER_KEY_ENV} is not set: is this the server's data directory?`);
  }
  const masterKey = await resolveMasterKey({ env: envKey, dataDir });
  const [{ createStore }, { createSystem }] = await Promise.all([storageLayer(), systemLayer()]);
  const database = await openLocalDatabase(io, dataDir);
  try {
    if ((await createStore(database, masterKey).keys.list()).length === 0) {
      throw new TesseraError('ERR_CONFIG', 'this database has no root keys yet: start the server once ("tessera serve"), which mints the first admin token');
    }
    const system = await createSystem({ database, masterKey, publicUrl, log: () => undefined });
    try {
      return await fn(system);
    } finally {
      await system.close();
    }
  } finally {
    await database.close();
  }
}

/**
 * Where an admin action runs: a server's admin API, or the local database (the caller closes
 * it) with a store over it. Users, sessions, invites and groups hold nothing sealed, so that store
 * has a throwaway master key it never uses: these actions never need the real one (and must not
 * create one in the data directory).
 */
export type AdminTarget =
  | { readonly server: ApiOptions; readonly database?: undefined; readonly store?: undefined }
  | { readonly database: Database; readonly store: Store; readonly server?: undefined };

/** A server was named: through its admin API. */
const serverNamed = (args: ParsedArgs, io: CliIO): boolean =>
  [str(args, 'url'), str(args, 'token'), io.env.TESSERA_URL, io.env.TESSERA_ADMIN_TOKEN].some((v) => v !== undefined && v !== '');

async function serverOf(args: ParsedArgs, io: CliIO, dataDir: string, url: string): Promise<ApiOptions> {
  return { url, token: (await adminTokenOf(str(args, 'token'), dataDir, io)).token };
}

/**
 * Where `tessera users` and `tessera groups` act: the named server (--url, --token, TESSERA_URL
 * or TESSERA_ADMIN_TOKEN), else the local database; on an embedded database held by a running
 * server, that server (found through <data-dir>/server-url, and said so on stderr), or an error
 * saying how to reach it.
 */
export async function adminTarget(args: ParsedArgs, io: CliIO, dataDir: string): Promise<AdminTarget> {
  if (serverNamed(args, io)) return { server: await serverOf(args, io, dataDir, serverUrlOf(str(args, 'url'), io)) };
  let database: Database;
  try {
    database = await openLocalDatabase(io, dataDir);
  } catch (e) {
    if (!isTesseraError(e, 'ERR_CONFIG') || e.details.inUse !== true) throw e;
    const running = (await readFile(join(dataDir, SERVER_URL_FILE), 'utf8').catch(() => '')).trim();
    const how = `run it against the server: --url <its URL> (or TESSERA_URL) and its admin token (--token, TESSERA_ADMIN_TOKEN or ${join(dataDir, ADMIN_TOKEN_FILE)})`;
    if (running === '') throw new TesseraError('ERR_CONFIG', `${e.message}; if that is a running tessera serve, ${how}`, { field: 'dataDir' });
    const url = serverUrlOf(running, io);
    const server = await serverOf(args, io, dataDir, url).catch(() => {
      throw new TesseraError('ERR_CONFIG', `the embedded database is in use by the server at ${url}; ${how}`, { field: 'dataDir' });
    });
    io.err(`the embedded database is in use by the server at ${url}: going through its admin API`);
    return { server };
  }
  const { createStore } = await storageLayer();
  return { database, store: createStore(database, MasterKey.generate()) };
}
