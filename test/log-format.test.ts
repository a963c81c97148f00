/**
 * `tessera serve --log-format json`: every event one JSON object a line on stdout (the startup
 * lines and the system's one logger alike), never a secret: the first-start admin token is in
 * its file, not in the log.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../src/cli/io.js';
import { run } from '../src/cli/run.js';
import { jsonLine } from '../src/log.js';
import { seedDataDir } from './support/databases.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('jsonLine', () => {
  it('is one line of JSON whatever the message holds, with the text prefix dropped and fields kept', () => {
    const line = jsonLine('warn', 'tessera: warn: two\nlines "quoted"', { n: 1 }, new Date('2026-12-01T00:00:00Z'));
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ n: 1, time: '2026-12-01T00:00:00.000Z', level: 'warn', msg: 'two\nlines "quoted"' });
  });
});

describe('tessera serve --log-format json', { timeout: 60_000 }, () => {
  it('writes JSON lines only, startup events and logged events alike, and never the admin token', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-logjson-'));
    dirs.push(dataDir);
    await seedDataDir(dataDir);
    const out: string[] = [];
    const err: string[] = [];
    let onLine: () => void = () => undefined;
    let stop: (signal: string) => void = () => undefined;
    const io: CliIO = {
      out: (text) => {
        out.push(text);
        onLine();
      },
      err: (text) => void err.push(text),
      readStdin: async () => '',
      env: { TESSERA_MASTER_KEY: undefined },
      cwd: dataDir,
      stopSignal: () => new Promise((resolve) => (stop = resolve)),
    };
    const nextLine = (test: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
      new Promise((resolve) => {
        const check = (): void => {
          const found = out.map((l) => JSON.parse(l) as Record<string, unknown>).find(test);
          if (found !== undefined) resolve(found);
        };
        onLine = check;
        check();
      });
    const exited = run(['serve', '--port', '0', '--data-dir', dataDir, '--log-format', 'json'], io);
    const listening = await nextLine((e) => typeof e.url === 'string');
    expect(listening).toMatchObject({ level: 'info', database: 'pglite' });
    expect(listening.msg).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ /);

    // A client hanging up mid-body is logged by the system's logger: as a JSON line too.
    const { port } = new URL(listening.url as string);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const logged = nextLine((e) => typeof e.msg === 'string' && e.msg.includes('closed the connection'));
    socket.end('POST /v1/discharge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id":"a');
    expect(await logged).toMatchObject({ level: 'info', msg: 'POST /v1/discharge: the client closed the connection before the request was complete' });

    stop('SIGTERM');
    expect(await exited).toBe(0);
    const adminToken = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    expect(adminToken.length).toBeGreaterThan(20);
    expect(err).toEqual([]);
    for (const line of out) {
      expect(line).not.toContain('\n');
      const event = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(event)).toEqual(expect.arrayContaining(['time', 'level', 'msg']));
      expect(Number.isNaN(Date.parse(event.time as string))).toBe(false);
    }
    const all = out.join('\n');
    expect(all).not.toContain(adminToken);
    expect(all).not.toContain(adminToken.slice(0, 24));
    const msgs = out.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain('first start: admin token minted (not logged: read it from the file)');
    expect(msgs.slice(-2)).toEqual(['SIGTERM: stopping', 'stopped']);
  });

  it('refuses another format', async () => {
    const err: string[] = [];
    const io: CliIO = { out: () => undefined, err: (t) => void err.push(t), readStdin: async () => '', env: {}, cwd: tmpdir(), stopSignal: () => new Promise(() => undefined) };
    expect(await run(['serve', '--log-format', 'xml'], io)).toBe(2);
    expect(err.join('\n')).toContain('--log-format must be text or json');
  });
});
