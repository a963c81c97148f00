/**
 * The embedded database's lock: PGlite is single-process, and two processes on one data
 * directory would corrupt it.
 *
 * A pid in a file cannot tell a live holder from a stale file whose pid was reused (after a
 * kill -9 in a container, the next `serve` is PID 1 again and finds its own pid in the file).
 * So the lock is held by the kernel instead: a listening Unix socket that exists exactly as long
 * as the holding process. On Linux it lives in the abstract namespace, named after the data
 * directory's device and inode (no file to go stale; released the instant the process dies).
 * Elsewhere it is `<dataDir>/pglite.sock`; one that refuses connections is stale and replaced.
 * The abstract namespace is per network namespace: two containers sharing one volume but not
 * one network namespace do not see each other's lock (share a database through PostgreSQL).
 *
 * `pglite.lock` still receives the holder's pid, only to name it in the "in use" message.
 */
import { createHash } from 'node:crypto';
import { stat, unlink, writeFile, readFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { TesseraError } from '../errors.js';

const PID_FILE = 'pglite.lock';
const SOCKET_FILE = 'pglite.sock';
/** sun_path is 108 bytes on Linux, 104 on macOS: stay below both. */
const MAX_SOCKET_PATH = 100;

/** Take the data directory's lock, or throw ERR_CONFIG naming the process that holds it. Resolves to the release function. */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const address = await lockAddress(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    const server = await tryListen(address);
    if (server !== undefined) {
      await writeFile(join(dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o600 }).catch(() => undefined);
      return async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await unlink(join(dataDir, PID_FILE)).catch(() => undefined);
        if (!address.startsWith('\0')) await unlink(address).catch(() => undefined);
      };
    }
    // An abstract socket cannot be stale; a socket file can, when nothing answers on it.
    if (address.startsWith('\0') || (await answers(address))) break;
    await unlink(address).catch(() => undefined);
  }
  const pid = Number.parseInt(await readFile(join(dataDir, PID_FILE), 'utf8').catch(() => ''), 10);
  const holder = Number.isSafeInteger(pid) && pid > 0 ? `process ${pid}` : 'another process';
  throw new TesseraError(
    'ERR_CONFIG',
    `the embedded database is in use by ${holder}; stop it, or use PostgreSQL (DATABASE_URL) to share a database`,
    // `inUse`: commands that can go through the running server instead (tessera users) look for it.
    { field: 'dataDir', inUse: true },
  );
}

async function lockAddress(dataDir: string): Promise<string> {
  if (process.platform === 'linux') {
    const { dev, ino } = await stat(dataDir, { bigint: true });
    return `\0tessera-pglite-${createHash('sha256').update(`${dev}:${ino}`).digest('hex').slice(0, 32)}`;
  }
  const path = join(dataDir, SOCKET_FILE);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new TesseraError('ERR_CONFIG', `the data directory's path is too long for its lock socket (at most ${MAX_SOCKET_PATH - SOCKET_FILE.length - 1} bytes)`, { field: 'dataDir' });
  }
  return path;
}

/** Listen on `address`; undefined when it is taken. The socket never keeps the process alive. */
function tryListen(address: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    // Whoever connects (a process checking for staleness) learns all it needs from connecting.
    const server = createServer((socket) => socket.destroy());
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    server.listen(address, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Whether a process is listening on the socket file. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
