import { accessSync, constants, statSync, statfsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The tests' data directories (embedded databases, key files, the servers they start) go to a
// RAM-backed file system when there is one and TMPDIR is not set: on this machine's ext4,
// creating the thousand files of an embedded database costs ~0.6 s of kernel CPU, on tmpfs
// ~0.04 s. Set here, in the main process, so that the global setup, the workers and every
// process a test starts agree on one temporary directory. Only with room to spare: a run holds
// a few hundred MB there at its peak, and a container's /dev/shm is often 64 MB.
const RAM_DIR = '/dev/shm';
const RAM_DIR_NEEDS = 2 * 1024 ** 3;
const roomyDir = (dir: string): boolean => {
  try {
    accessSync(dir, constants.W_OK);
    const { bavail, bsize } = statfsSync(dir);
    return statSync(dir).isDirectory() && bavail * bsize >= RAM_DIR_NEEDS;
  } catch {
    return false;
  }
};
if ((process.env.TMPDIR ?? '') === '' && roomyDir(RAM_DIR)) process.env.TMPDIR = RAM_DIR;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Makes the migrated PGlite template every test database loads (test/support/pglite-template.ts).
    // Also compiles the sources once for the child processes tests start (test/support/child-build.ts).
    globalSetup: ['test/support/global-setup.ts', 'test/support/child-build.ts'],
    // Files run in a worker one after another without a fresh module graph each: the sources and
    // packages load once per worker. What a file opens goes back when it ends (test/support/per-file.ts).
    isolate: false,
    setupFiles: ['test/support/per-file.ts'],
    // PGlite is one large WebAssembly module: V8's optimizing tier recompiling its hot functions
    // costs more CPU than it saves over a test run (measured on the database-heavy files: 82 s of
    // CPU without, 68 s with). The children tests start use it too (test/support/child-build.ts).
    execArgv: ['--liftoff-only'],
    // vitest's default on 2 cores is one file at a time; files spend much of their time waiting
    // (child processes, long-polls, PostgreSQL, Chromium), so one more worker than cores.
    maxWorkers: 3,
    // vitest keeps what it compiled of each module in node_modules/.experimental-vitest-cache,
    // keyed by the module's content: a later run compiles only what changed (measured: 7 s of
    // transform and 18 s of import across the workers, against 1 s and 11 s).
    experimental: { fsModuleCache: true },
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
