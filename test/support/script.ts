/**
 * How to start a sibling script as a child process, whether the caller runs from TypeScript
 * (vitest, tsx) or compiled to JavaScript (`npm run bench` compiles first, so that benchmarks
 * measure the code as a user's build runs it).
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeArgs } from './child-build.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Node arguments for `<dir of base>/<name>.ts|.js`: the compiled file when the caller is
 * compiled, else the test run's build of the source (./child-build.ts), else tsx.
 */
export function scriptArgs(name: string, base: string): string[] {
  if (base.endsWith('.js')) return [fileURLToPath(new URL(`./${name}.js`, base))];
  return nodeArgs(relative(ROOT, fileURLToPath(new URL(`./${name}.ts`, base))));
}
