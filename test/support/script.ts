/**
 * How to start a sibling script as a child process, whether the caller runs from TypeScript
 * (vitest, tsx) or compiled to JavaScript (`npm run bench` compiles first, so that benchmarks
 * measure the code as a user's build runs it).
 */
import { fileURLToPath } from 'node:url';

/** Node arguments for `<dir of base>/<name>.ts|.js`: `--import tsx` only when running TypeScript. */
export function scriptArgs(name: string, base: string): string[] {
  const compiled = base.endsWith('.js');
  const file = fileURLToPath(new URL(`./${name}.${compiled ? 'js' : 'ts'}`, base));
  return compiled ? [file] : ['--import', 'tsx', file];
}
