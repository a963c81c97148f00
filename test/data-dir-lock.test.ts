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
import { CLI, ROOT } from './support/cli.js';
import { expectCode } from './support/expect-code.js';

const dirs: string[] = [];
const open: Database[] = [];
afterAll(async () => {
  await Promise.all(open.map((d) => d.close().catch(() => undefined)));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tessera-lock-'));
  dirs.push(d);
  return d;
}

describe('embedded database lock', { timeout: 120_000 }, () => {
  it('opens despite a stale lock file holding its own pid or another live pid', async () => {
    for (const pid of [process.pid, process.ppid]) {
      const dataDir = await tempDir();
      await writeFile(join(dataDir, 'pglite.lock'), `${pid}\n`);
      const database = await openDatabase({ dataDir });
      open.push(database);
      expect(database.kind).toBe('pglite');
    }
  });

  it('refuses a second holder, naming it, and is free again once closed', async () => {
    const dataDir = await tempDir();
    const first = await openDatabase({ dataDir });
    const e = await expectCode(openDatabase({ dataDir }), 'ERR_CONFIG');
    expect(e.message).toContain(`in use by process ${process.pid}`);
    await first.close();
    const again = await openDatabase({ dataDir });
    open.push(again);
    expect(again.kind).toBe('pglite');
  });

  it("the issue's repro: `serve` exec'd by the shell that wrote its pid into the lock starts", async () => {
    const dataDir = await tempDir();
    const script = `echo $$ > "$1/pglite.lock"; exec "${process.execPath}" --import tsx "${ROOT}/${CLI}" serve --port 0 --data-dir "$1"`;
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
    child.kill('SIGTERM');
    // Stopped: cleanly (0), or by the signal itself: under heavy load (CI, 3 workers on 2 cores)
    // this tsx-started child twice died of the SIGTERM instead of going through serve's handler,
    // a cause not yet understood (noted on #12). What this test is about is that it started.
    const { code, signal } = await exited;
    expect(code === 0 || signal === 'SIGTERM', `exit ${String(code)} / ${String(signal)}`).toBe(true);
  });
});
