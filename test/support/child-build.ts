/**
 * The sources compiled to JavaScript once per test run, for the child processes the tests start
 * (the CLI, the examples, the verifier worker): tsx transpiles every module of every child again
 * at startup (a CLI start: ~0.4 s of CPU compiled, ~1.2 s through tsx, ~2.4 s through `npx
 * tsx`). vitest's global setup runs
 * esbuild over src/, caveats/, examples/ and test/support/ file by file (no bundling: each
 * module keeps its own `import.meta.url`, which the examples' "run as a script" check needs),
 * in well under a second, into a fresh directory under .test-build/ (inside the checkout, so
 * that packages resolve from its node_modules), removed when the run ends. Always built from
 * the sources of this run (and again before each rerun in watch mode): a stale build is never
 * tested.
 *
 * Without it (a script outside vitest, or a worker started without the global setup) children
 * run the sources through tsx, as before.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the global setup tells the workers (and their children) which build to run. */
const BUILD_ENV = 'TESSERA_TEST_BUILD';
const BUILDS = join(ROOT, '.test-build');
/** A build left behind by a run that was killed is removed by a later run after this long. */
const STALE_MS = 6 * 3600_000;

/**
 * V8 flags for the children, which live seconds: PGlite is one large WebAssembly module, and
 * V8's optimizing tier recompiles its hot functions on background threads, CPU that a short
 * process never earns back (examples/revocation.ts: 10.7 s of CPU without, 6.3 s with).
 */
export const CHILD_V8_FLAGS: readonly string[] = ['--liftoff-only'];

/**
 * Node's arguments to run `file` (a path from the checkout's root, `examples/service.ts`): the
 * compiled module of this run's build when there is one, else the source through tsx.
 */
export function nodeArgs(file: string): string[] {
  const build = process.env[BUILD_ENV];
  if (build !== undefined && build !== '') {
    const compiled = join(build, file.replace(/\.ts$/, '.js'));
    if (existsSync(compiled)) return [...CHILD_V8_FLAGS, compiled];
  }
  return [...CHILD_V8_FLAGS, '--import', 'tsx', join(ROOT, file)];
}

/** Compile the sources into `dir` (replacing what is there). */
async function compile(dir: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/**/*.ts', 'caveats/**/*.ts', 'examples/**/*.ts', 'test/support/**/*.ts'],
    outbase: '.',
    outdir: dir,
    bundle: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
}

/**
 * vitest global setup: build, point the workers at it, build again before each rerun in watch
 * mode (the sources changed), remove it when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await mkdir(BUILDS, { recursive: true });
  const now = Date.now();
  for (const name of await readdir(BUILDS)) {
    const path = join(BUILDS, name);
    // Another run may be removing the same one.
    const mtime = await stat(path).then((s) => s.mtimeMs, () => now);
    if (now - mtime > STALE_MS) await rm(path, { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(BUILDS, 'run-'));
  await compile(dir);
  project.onTestsRerun(() => compile(dir));
  process.env[BUILD_ENV] = dir;
  return async () => {
    delete process.env[BUILD_ENV];
    await rm(dir, { recursive: true, force: true });
  };
}
