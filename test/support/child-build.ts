/**
 * The sources compiled to JavaScript once per test run, for the child processes the tests start
 * (the CLI, the examples, the verifier worker): tsx transpiles every module of every child again
 * at startup (~3.3 s a process against ~1.5 s for JavaScript). vitest's global setup runs
 * esbuild over src/, caveats/, examples/ and test/support/ file by file (no bundling: each
 * module keeps its own `import.meta.url`, which the examples' "run as a script" check needs),
 * in well under a second, into a fresh directory under .test-build/ (inside the checkout, so
 * that packages resolve from its node_modules), removed when the run ends. Always built from
 * the sources of this run: a stale build is never tested.
 *
 * Without it (a script outside vitest, or a worker started without the global setup) children
 * run the sources through tsx, as before.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the global setup tells the workers (and their children) which build to run. */
const BUILD_ENV = 'TESSERA_TEST_BUILD';
const BUILDS = join(ROOT, '.test-build');
/** A build left behind by a run that was killed is removed by a later run after this long. */
const STALE_MS = 6 * 3600_000;

/**
 * Node's arguments to run `file` (a path from the checkout's root, `examples/service.ts`): the
 * compiled module of this run's build when there is one, else the source through tsx.
 */
export function nodeArgs(file: string): string[] {
  const build = process.env[BUILD_ENV];
  if (build !== undefined && build !== '') {
    const compiled = join(build, file.replace(/\.ts$/, '.js'));
    if (existsSync(compiled)) return [compiled];
  }
  return ['--import', 'tsx', join(ROOT, file)];
}

/** vitest global setup: build, point the workers at it, remove it when the run ends. */
export default async function setup(): Promise<() => Promise<void>> {
  await mkdir(BUILDS, { recursive: true });
  const now = Date.now();
  for (const name of await readdir(BUILDS)) {
    const path = join(BUILDS, name);
    if (now - (await stat(path)).mtimeMs > STALE_MS) await rm(path, { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(BUILDS, 'run-'));
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
  process.env[BUILD_ENV] = dir;
  return async () => {
    delete process.env[BUILD_ENV];
    await rm(dir, { recursive: true, force: true });
  };
}
