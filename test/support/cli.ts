/**
 * Run the `tessera` CLI in tests: in this process through the dispatcher (`runCli`: what the
 * commands print and return, in milliseconds), or as a child process as a user runs it
 * (`spawnCli`, `runCliProcess`: stdin, stdout, exit status and signals of the real executable;
 * a second or more each, so keep those to what only a process shows).
 *
 * Child processes run the build (`node dist/src/cli/main.js`, as `npm install` users get it)
 * when dist/ is at least as new as every source file (`.ci/run` builds before testing), else
 * this run's compiled sources (./child-build.ts), else the sources through tsx: a stale build
 * must never be tested.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/run.js';
import { MasterKey, createStore, openDatabase, type Database, type OpenDatabaseOptions, type Store } from '../../src/storage/index.js';
import { CHILD_V8_FLAGS, nodeArgs } from './child-build.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = 'src/cli/main.ts';
/** The built executable (package.json `bin`). */
export const DIST_CLI = 'dist/src/cli/main.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly input?: string;
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** The variables a test must set explicitly: the developer's own must not leak in. */
const cleanEnv = (env: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  ...process.env,
  TESSERA_ADMIN_TOKEN: undefined,
  TESSERA_URL: undefined,
  TESSERA_DATA_DIR: undefined,
  DATABASE_URL: undefined,
  ...env,
});

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let entry: readonly string[] | undefined;

/** Node's arguments to start the CLI: dist/ when it is current, else the sources compiled for this run. */
export function cliEntry(): readonly string[] {
  if (entry !== undefined) return entry;
  const built = join(ROOT, DIST_CLI);
  const current = existsSync(built) && statSync(built).mtimeMs >= Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'caveats')));
  entry = current ? [...CHILD_V8_FLAGS, built] : nodeArgs(CLI);
  if (entry.includes('tsx')) console.warn(`cli: no current ${DIST_CLI} and no test build: child processes run the CLI through tsx (slower)`);
  return entry;
}

/** The CLI with `args` as a child process (see `cliEntry`). */
export function spawnCli(args: readonly string[], options: { readonly env?: Record<string, string | undefined>; readonly cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [...cliEntry(), ...args], { cwd: options.cwd ?? ROOT, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Run the CLI as a child process to completion (killed after `timeoutMs`). */
export function runCliProcess(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Run the CLI in this process, through the dispatcher `main.ts` calls (`run` with the command
 * table), with what the executable would see: stdin as given (empty when not, as from a closed
 * pipe), the environment without the developer's TESSERA_* and DATABASE_URL, lines on stdout
 * and stderr. A command waiting for Ctrl-C (`serve`) is stopped after `timeoutMs`.
 */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const io: CliIO = {
    out: (text) => void (stdout += `${text}\n`),
    err: (text) => void (stderr += `${text}\n`),
    readStdin: async () => options.input ?? '',
    env: cleanEnv(options.env),
    cwd: options.cwd ?? ROOT,
    stopSignal: () => new Promise((resolve) => (timer = setTimeout(() => resolve('SIGTERM'), options.timeoutMs ?? 60_000))),
  };
  try {
    return { code: await run(args, io), stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** No stack traces: no "    at " frames and no internal error names. */
export const hasStackTrace = (text: string): boolean => /^\s+at /m.test(text) || /TypeError|ReferenceError|node:internal/.test(text);

/** One open handle of an embedded data directory, shared by in-process commands and a test's checks. */
export interface SharedDataDir {
  /** For `CliIO.openDatabase`: the shared handle (opened on first use), whose close waits for `close()`. */
  openDatabase(options: OpenDatabaseOptions): Promise<Database>;
  /** `fn` with a store over the shared handle (a throwaway master key: for what holds nothing sealed). */
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Share one open handle of the embedded database in `dataDir` between the commands a test runs
 * in-process and its own checks: a command opening the directory itself starts the embedded
 * database each time (~0.4 s of CPU), as a user's command does. Tests of that opening run
 * their commands without it.
 */
export function sharedDataDir(dataDir: string): SharedDataDir {
  let shared: Promise<Database> | undefined;
  const database = (): Promise<Database> => (shared ??= openDatabase({ dataDir }));
  return {
    async openDatabase(options) {
      if (options.dataDir !== dataDir || options.url !== undefined) throw new Error(`sharedDataDir(${dataDir}) asked for ${JSON.stringify(options)}`);
      return { ...(await database()), close: async () => undefined };
    },
    async withStore(fn) {
      return fn(createStore(await database(), MasterKey.generate()));
    },
    async close() {
      const opened = shared;
      shared = undefined;
      await (await opened)?.close();
    },
  };
}
