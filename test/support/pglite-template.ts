/**
 * A migrated, empty PGlite data directory as a tarball, made once and loaded by every test
 * database: initdb costs ~4 s of CPU per embedded database (more under load), loading the
 * tarball ~0.4 s (`slimCluster`). Beside it, the empty cluster initdb leaves (nothing migrated), for the tests
 * of a first migration. vitest's global setup (test/support/global-setup.ts) makes both before
 * the workers start; a worker run without it makes (or finds) them itself.
 *
 * The files live in the temporary directory, named by a hash of the PGlite version (and of the
 * migrations, for the template), so a schema change or a PGlite upgrade makes a new one and an
 * unchanged schema reuses it across runs.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from '../../src/storage/migrate.js';
import { MIGRATIONS } from '../../src/storage/migrations/index.js';
import * as schema from '../../src/storage/schema.js';

async function pgliteVersion(): Promise<string> {
  const pglitePackage = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '../package.json');
  return (JSON.parse(await readFile(pglitePackage, 'utf8')) as { version: string }).version;
}

/**
 * `<tmp>/tessera-test-<name>-<hash of key>.tar`, made by `make` when missing: written to a
 * unique name and renamed, so that concurrent runs never see half a file.
 */
async function cachedTarball(name: string, key: unknown, make: () => Promise<Blob>): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
  const file = join(tmpdir(), `tessera-test-${name}-${hash}.tar`);
  if (await stat(file).then((s) => s.size > 0, () => false)) return file;
  const tarball = await make();
  const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
  try {
    await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  await pruneOlder(name, hash);
  return file;
}

/**
 * Remove the `name` tarballs (and their directories) of other hashes left by runs more than a
 * day ago: each schema change makes a new one, and the temporary directory may be in memory.
 */
async function pruneOlder(name: string, hash: string): Promise<void> {
  const ours = new RegExp(`^tessera-test-${name}-([0-9a-f]{16})\\.tar`);
  for (const entry of await readdir(tmpdir())) {
    const other = ours.exec(entry)?.[1];
    if (other === undefined || other === hash) continue;
    const path = join(tmpdir(), entry);
    const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 24 * 3600_000) await rm(path, { recursive: true, force: true });
  }
}

/**
 * Dump what `fill` leaves in a new PGlite (started from `from`, else by initdb with 1 MB WAL
 * segments: see `slimCluster`).
 */
async function dumpOf(from: Blob | undefined, fill: (pg: PGlite) => Promise<unknown>): Promise<Blob> {
  const pg = new PGlite(from !== undefined ? { loadDataDir: from } : { initDbStartParams: ['--wal-segsize=1'] });
  try {
    await fill(pg);
    return await pg.dumpDataDir('none');
  } finally {
    await pg.close();
  }
}

/**
 * Leave out of the test cluster what no Tessera database uses and every load of the tarball
 * pays for: loading costs CPU in proportion to its bytes (the whole tarball is unpacked into
 * memory). initdb's cluster is 40 MB: a 16 MB WAL segment and three databases of ~7.5 MB
 * each, of which Tessera uses only `postgres` (template0 and template1 serve CREATE DATABASE).
 * With 1 MB WAL segments and the templates dropped it is 16 MB, and a load costs ~0.4 s of CPU
 * instead of ~1 s. An embedded database a user starts is initdb's, unchanged.
 */
async function slimCluster(pg: PGlite): Promise<void> {
  await pg.query(`update pg_database set datistemplate = false where datname in ('template0', 'template1')`);
  await pg.query('drop database template0');
  await pg.query('drop database template1');
  await pg.query('checkpoint');
}

/**
 * The path of an empty cluster's tarball, as initdb leaves it with nothing migrated (for the
 * tests of a first migration), made now when missing.
 */
export async function pgliteClusterPath(): Promise<string> {
  return cachedTarball('pglite-cluster', { version: await pgliteVersion(), slim: 1 }, () => dumpOf(undefined, slimCluster));
}

/** The path of the migrated template's tarball, made now (from the empty cluster) when missing. */
export async function pgliteTemplatePath(): Promise<string> {
  return cachedTarball('pglite', { version: await pgliteVersion(), slim: 1, migrations: MIGRATIONS }, async () =>
    dumpOf(await loadPgliteTemplate(await pgliteClusterPath()), async (pg) => {
      await migrate(drizzle({ client: pg, schema }));
      await pg.query('checkpoint');
    }));
}

/**
 * The template as an embedded data directory on disk (`<template>.d`, made from the tarball
 * when missing: an on-disk initdb costs ~7 s of CPU, copying this ~0.4 s).
 */
async function pgliteTemplateDir(): Promise<string> {
  const file = await pgliteTemplatePath();
  const dir = `${file}.d`;
  if (await stat(join(dir, 'PG_VERSION')).then(() => true, () => false)) return dir;
  const partial = `${dir}.${randomBytes(6).toString('hex')}.partial`;
  try {
    const pg = new PGlite(partial, { loadDataDir: await loadPgliteTemplate(file) });
    await pg.waitReady;
    await pg.close();
    await rename(partial, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another run made it first: use theirs.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return dir;
}

const execFileAsync = promisify(execFile);

/**
 * Copy a directory tree: with the system's `cp` where there is one (a few hundredths of a second
 * for the template's thousand files, against ~1 s of CPU for Node's fs.cp), else with fs.cp.
 */
async function copyTree(from: string, to: string): Promise<void> {
  try {
    await execFileAsync('cp', ['-R', '-p', from, to]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await cp(from, to, { recursive: true });
  }
}

/**
 * Make `dataDir` (mode 0700, like the server) hold a migrated, empty embedded database, as
 * `openDatabase({ dataDir })` leaves it on a first start, for tests of what comes after the
 * first start. Tests of the first start itself leave the directory empty.
 */
export async function seedDataDir(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await copyTree(await pgliteTemplateDir(), join(dataDir, 'pglite'));
  return dataDir;
}

/** The template's bytes, for `openDatabase({ memory: true, loadDataDir })`. */
export async function loadPgliteTemplate(path?: string): Promise<Blob> {
  return new Blob([await readFile(path ?? (await pgliteTemplatePath()))]);
}
