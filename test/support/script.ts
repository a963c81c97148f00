/**
 * How to start a sibling script as a child process, whether the caller runs from TypeScript
 * (vitest, tsx) or compiled to JavaScript (`npm run bench` compiles first, so that benchmarks
 * measure the code as a user's build runs it).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Node arguments for `<dir of base>/<name>.ts|.js`: `--import tsx` only when running TypeScript. */
export function scriptArgs(name: string, base: string): string[] {
  const compiled = base.endsWith('.js');
  const file = fileURLToPath(new URL(`./${name}.${compiled ? 'js' : 'ts'}`, base));
  return compiled ? [file] : ['--import', 'tsx', file];
}

const bundles = new Map<string, Promise<string>>();

/**
 * Node arguments for `<dir of base>/<name>` as JavaScript: the .js beside it when the caller is
 * compiled, else the .ts bundled by esbuild once per process (our sources only; packages stay
 * imports) into `.test-build/` of the checkout, where they resolve. Starting a child through tsx
 * costs ~1.2 s more CPU than this, and the bundle is always made from the current sources.
 */
export async function compiledScriptArgs(name: string, base: string): Promise<string[]> {
  if (base.endsWith('.js')) return scriptArgs(name, base);
  const source = fileURLToPath(new URL(`./${name}.ts`, base));
  let bundle = bundles.get(source);
  if (bundle === undefined) {
    bundle = (async () => {
      const { build } = await import('esbuild');
      const dir = fileURLToPath(new URL('../../.test-build/', import.meta.url));
      await mkdir(dir, { recursive: true });
      const out = `${dir}${name}.mjs`;
      // Written aside and renamed: other test files may be starting this script meanwhile.
      const partial = `${out}.${randomBytes(6).toString('hex')}.partial.mjs`;
      await build({ entryPoints: [source], outfile: partial, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent' });
      await rename(partial, out);
      return out;
    })();
    bundles.set(source, bundle);
  }
  return [await bundle];
}
