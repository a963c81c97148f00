/**
 * Run an example (examples/<file>.ts) as a child process to completion, as a newcomer runs it
 * with `npx tsx examples/<file>.ts`, minus the transpiling: node runs this test run's compiled
 * module (./child-build.ts; tsx when there is none). `npx tsx` itself is covered once, by the
 * CLI test.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { nodeArgs } from './child-build.js';
import { POSTGRES_URL } from './databases.js';
import { createScratchDatabase } from './scratch-database.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ExampleResult {
  /** The exit code; null when killed (the timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Where an example keeps its data: the examples use PostgreSQL when DATABASE_URL is set, as every
 * Tessera program does, and an in-memory embedded database otherwise. The examples' own
 * environment: DATABASE_URL set only when given (never the tests' own server URL).
 */
function exampleEnv(env: ExampleEnv): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: '', ...env };
}

export type ExampleEnv = Readonly<Record<string, string>>;

/**
 * The environment of an example with a scratch PostgreSQL database of its own (DATABASE_URL),
 * dropped when the calling test finishes, when the tests have a server: the embedded database's
 * first start (initdb) is most of what an example costs. Without a server: no DATABASE_URL, the
 * example runs on the in-memory embedded database a newcomer gets.
 */
export async function exampleDatabaseEnv(): Promise<ExampleEnv> {
  if (POSTGRES_URL === undefined) return {};
  const scratch = await createScratchDatabase(POSTGRES_URL);
  onTestFinished(() => scratch.drop());
  return { DATABASE_URL: scratch.url };
}

export function runExample(file: string, args: readonly string[] = [], timeoutMs = 110_000, env: ExampleEnv = {}): Promise<ExampleResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs(`examples/${file}`), ...args], { cwd: ROOT, timeout: timeoutMs, env: exampleEnv(env) }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** True while any process of the group still runs. */
const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Start a serving example (default examples/service.ts) on an ephemeral port, in its own process
 * group so that `stop()` can do what Ctrl-C in a terminal does: SIGINT to the whole group.
 * Resolves once the banner (URL, token) is printed; `stop()` resolves when every process of the
 * group is gone.
 */
export function startService(
  file = 'service.ts',
  tokenLine = /valid for one hour\):\n([A-Za-z0-9_-]+)\n/,
  timeoutMs = 60_000,
  env: ExampleEnv = {},
): Promise<{ url: string; token: string; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, nodeArgs(`examples/${file}`), { cwd: ROOT, detached: true, env: exampleEnv({ PORT: '0', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid as number;
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killer = setTimeout(() => groupAlive(pgid) && process.kill(-pgid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const token = tokenLine.exec(out)?.[1];
      if (url !== undefined && token !== undefined && /Ctrl-C to stop\.?\n/.test(out)) {
        resolve({
          url,
          token,
          output: () => out,
          stop: async () => {
            if (groupAlive(pgid)) process.kill(-pgid, 'SIGINT');
            await exited;
            while (groupAlive(pgid)) await new Promise((r) => setTimeout(r, 50));
            clearTimeout(killer);
          },
        });
      }
    });
    void exited.then(() => reject(new Error(`service exited early: ${out}`)));
  });
}
