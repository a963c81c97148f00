/**
 * The embedded database's lock is held by the kernel, not by a pid in a file: a stale
 * `pglite.lock` naming this very process (a container's PID 1 after kill -9) or any other live
 * process no longer blocks startup, while a second holder is still refused.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/storage/index.js';
import { ROOT, cliEntry } from './support/cli.js';
import { seedDataDir } from './support/databases.js';
import { expectCode } from './support/expect-code.js';

const dirs: string[] = [];
const open: Database[] = [];
afterAll(async () => {
  await Promise.all(open.map((d) => d.close().catch(() => undefined)));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
/** A data directory holding a migrated embedded database (what the lock guards; no initdb). */
async function dataDirectory(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tessera-lock-'));
  dirs.push(d);
  return seedDataDir(d);
}

describe('embedded database lock', { timeout: 120_000 }, () => {
  it('opens despite a stale lock file holding its own pid or another live pid', async () => {
    for (const pid of [process.pid, process.ppid]) {
      const dataDir = await dataDirectory();
      await writeFile(join(dataDir, 'pglite.lock'), `${pid}\n`);
      const database = await openDatabase({ dataDir });
      open.push(database);
      expect(database.kind).toBe('pglite');
    }
  });

  it('refuses a second holder, naming it, and is free again once closed', async () => {
    const dataDir = await dataDirectory();
    const first = await openDatabase({ dataDir });
    const e = await expectCode(openDatabase({ dataDir }), 'ERR_CONFIG');
    expect(e.message).toContain(`in use by process ${process.pid}`);
    await first.close();
    const again = await openDatabase({ dataDir });
    open.push(again);
    expect(again.kind).toBe('pglite');
  });

  it("the issue's repro: `serve` exec'd by the shell that wrote its pid into the lock starts", async () => {
    const dataDir = await dataDirectory();
    const node = [process.execPath, ...cliEntry()].map((a) => `"${a}"`).join(' ');
    const script = `echo $$ > "$1/pglite.lock"; exec ${node} serve --port 0 --data-dir "$1"`;
    const child = spawn('bash', ['-c', script, 'bash', dataDir], { cwd: ROOT, env: { ...process.env, DATABASE_URL: undefined, TESSERA_DATA_DIR: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const started = await new Promise<boolean>((resolve) => {
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (out.includes('Ctrl-C to stop')) resolve(true);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then(() => resolve(false));
    });
    expect(out).not.toContain('in use by process');
    expect(started).toBe(true);
    // At once: serve listens for the signal before it says "Ctrl-C to stop" (it once printed
    // first, and a SIGTERM that came in between killed it under load), so it stops cleanly.
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
