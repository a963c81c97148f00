/**
 * Graceful shutdown under keep-alive load (#12): a request that has reached the server on a
 * keep-alive connection but is not read yet when shutdown begins is answered (with
 * `Connection: close`), not cut. http.Server's close() closes every connection it thinks idle
 * at once, which included these: the load benchmark saw requests sent before a SIGTERM reset.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/server/server.js';
import { seedDataDir } from './support/databases.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Read from `socket` until `done(text)` or the socket ends; the text read. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (): void => {
      socket.off('data', onData);
      resolve(text);
    };
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (done(text)) finish();
    };
    socket.on('data', onData);
    socket.once('close', finish);
  });
}

const REQUEST = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const answered = (text: string): boolean => /\r\n\r\n\{[^}]*\}$/.test(text);

describe('shutdown with keep-alive connections', { timeout: 60_000 }, () => {
  it('answers a request already sent when shutdown begins, with Connection: close, then refuses new connections', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-shutdown-'));
    dirs.push(dataDir);
    const server = await startServer({ port: 0, dataDir: await seedDataDir(dataDir), log: () => undefined });
    const socket = connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(REQUEST);
    const first = await readUntil(socket, answered);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first.toLowerCase()).toContain('connection: keep-alive');

    // The next request is written and shutdown begins in the same tick: the server has not
    // read the request when it starts closing.
    const second = readUntil(socket, answered);
    socket.write(REQUEST);
    const closed = server.close();
    const text = await second;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text.toLowerCase()).toContain('connection: close');
    await closed;
    socket.destroy();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
