/** The version of this Tessera, read from its package.json (found upward from this module, in sources and in dist/ alike). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function tesseraVersion(): string {
  if (cached !== undefined) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tessera' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // no package.json here: keep looking upward
    }
    if (dirname(dir) === dir) return (cached = 'unknown');
  }
}
