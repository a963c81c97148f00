/**
 * The whole system built on the local database, for the local admin actions that mint with the
 * issuer's keys (`tessera admin-token`, `tessera users token` on a stopped server): they need the
 * master key (the data directory's, or TESSERA_MASTER_KEY) and a database a server has started on.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../errors.js';
import type { System } from '../server/system.js';
import { MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, resolveMasterKey } from '../storage/keyring.js';
import type { Database, Store } from '../storage/index.js';
import type { CliIO } from './io.js';
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
 * Run `fn` with a store over the local database, for actions on what holds nothing sealed
 * (users' groups and settings): the store gets a throwaway master key it never uses, so these
 * actions never need the real one (and never create one in the data directory).
 */
export async function withLocalStore<T>(io: CliIO, dataDir: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const { createStore } = await storageLayer();
  const database = await openLocalDatabase(io, dataDir);
  try {
    return await fn(createStore(database, MasterKey.generate()));
  } finally {
    await database.close();
  }
}
