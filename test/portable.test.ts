/**
 * The portable core (issue #8), proven rather than promised:
 *
 *   1. every portable entry point (tessera, /errors, /caveats, /verifier, /client, /hono,
 *      /tickets) bundles with esbuild for `platform: 'browser'` with no Node polyfills: a
 *      `node:*` import anywhere in their closure fails the build; and the bundle's inputs hold
 *      no database module (PGlite, drizzle, postgres), so verifying or attenuating a token
 *      never loads one;
 *   2. that one bundle runs in Debian's Chromium (playwright-core): the published vectors, an
 *      attenuation and a full Verifier.verify with caveats, a third-party caveat sealed for a
 *      public key and discharged, and a hono app behind macaroonAuth answering through
 *      app.fetch inside the page;
 *   3. the storage layer names the driver package to install when it is missing.
 *
 * Without Chromium at CHROMIUM_PATH (default /usr/bin/chromium) part 2 does not run, and says so.
 */
import { build, type Metafile } from 'esbuild';
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadOptionalPackage } from '../src/util/optional-package.js';
import type { PortableReport } from './support/portable-page.js';
import { vectors } from './support/vectors.js';
import { CHROMIUM_PATH, sharedChromium } from './support/web-system.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** The package's portable subpaths and their sources (package.json `exports`, built from these). */
const PORTABLE_ENTRY_POINTS: Readonly<Record<string, string>> = {
  tessera: 'src/index.ts',
  'tessera/errors': 'src/errors.ts',
  'tessera/caveats': 'caveats/index.ts',
  'tessera/verifier': 'src/verifier/index.ts',
  'tessera/client': 'src/client/index.ts',
  'tessera/hono': 'src/hono/index.ts',
  'tessera/tickets': 'src/tickets/index.ts',
};

const browser: Browser | undefined = await sharedChromium();
if (browser === undefined) console.warn(`portable browser test not run: Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`);

const DATABASE_MODULE = /(^|\/)node_modules\/(@electric-sql\/pglite|drizzle-orm|drizzle-kit|postgres)\//;

/** Bundle for the browser: no Node built-ins, no polyfills; every import must resolve. */
async function bundleForBrowser(entryPoints: readonly string[], contents?: string): Promise<{ code: string; metafile: Metafile }> {
  const result = await build({
    ...(contents !== undefined ? { stdin: { contents, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' } } : { entryPoints: [...entryPoints] }),
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, metafile: result.metafile };
}

describe('the portable entry points bundle for the browser', () => {
  let page: { code: string; metafile: Metafile };
  beforeAll(async () => {
    page = await bundleForBrowser(['test/support/portable-page.ts']);
  });

  it('every entry point builds with platform browser and pulls in no database module and no Node built-in', async () => {
    const imports = Object.values(PORTABLE_ENTRY_POINTS).map((path, i) => `export * as e${i} from './${path}';`).join('\n');
    const { metafile } = await bundleForBrowser([], imports);
    const inputs = Object.keys(metafile.inputs);
    for (const path of Object.values(PORTABLE_ENTRY_POINTS)) expect(inputs).toContain(path);
    expect(inputs.some((p) => p.includes('node_modules/@noble/'))).toBe(true); // the crypto is really in there
    expect(inputs.filter((p) => DATABASE_MODULE.test(p) || p.startsWith('node:') || p.includes('@hono/node-server'))).toEqual([]);
    expect(inputs.filter((p) => p.startsWith('src/storage/') || p.startsWith('src/server/') || p.startsWith('src/discharge/'))).toEqual([]);
    // The page the browser runs is built the same way, from the same modules.
    expect(Object.keys(page.metafile.inputs).filter((p) => DATABASE_MODULE.test(p) || p.startsWith('node:'))).toEqual([]);
  });

  it('the build fails when anything pulls in node:*', async () => {
    const failure = bundleForBrowser([], `import { isIP } from 'node:net';\nexport * from './src/index.ts';\nexport const f = isIP;`);
    await expect(failure).rejects.toThrow(/node:net/);
    // ...as the server layer does: it is not portable, and the check can tell.
    await expect(bundleForBrowser(['src/storage/index.ts'])).rejects.toThrow(/node:/);
  });

  describe.runIf(browser !== undefined)('in Chromium', () => {
    let report: PortableReport;
    beforeAll(async () => {
      const tab = await (browser as Browser).newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      // An opaque about:blank page: no server, and the script is the bundle itself.
      await tab.addScriptTag({ content: page.code, type: 'module' });
      await tab.waitForFunction(() => typeof (globalThis as { runPortableChecks?: unknown }).runPortableChecks === 'function');
      report = (await tab.evaluate(
        (v) => (globalThis as unknown as { runPortableChecks: (v: unknown) => Promise<PortableReport> }).runPortableChecks(v),
        vectors,
      )) as PortableReport;
      expect(errors).toEqual([]);
      await tab.close();
    });

    it('ran in the browser, where there is no process and no Buffer', () => {
      expect(report.userAgent).toMatch(/Chrome\//);
      expect([report.hasProcess, report.hasBuffer]).toEqual([false, false]);
    });

    it('reproduces the published vectors: signatures, V1 and V2 encodings, decoding and verification', () => {
      expect(report.vectors).toEqual(
        vectors.firstParty.map((v) => ({ signature: v.signature, v1: v.v1, v2: v.v2, decodedV2: v.v2, verifiedConditions: v.caveats })),
      );
      const tp = vectors.thirdParty[0]!;
      expect(report.boundDischarge).toEqual({ signature: tp.discharge.boundSignature, v2: tp.discharge.boundV2, verified: [[tp.firstPartyCaveat], tp.discharge.caveats] });
    });

    it('attenuates offline and verifies with caveats: allowed, and refused naming the failing caveat', () => {
      expect(report.attenuation.allowed).toHaveLength(4);
      expect(report.attenuation.allowed.slice(1)).toEqual(['ops read', 'resource /docs/**', 'client-ip 10.0.0.0/8']);
      expect(report.attenuation.refused).toEqual({ code: 'ERR_CAVEAT_FAILED', caveat: 'ops read' });
    });

    it('seals a third-party caveat for a public key; the discharge it opens to verifies, and nothing without it', () => {
      expect(report.thirdParty.condition).toBe('approve group:ops read the docs');
      expect(report.thirdParty.declared).toEqual({ 'approved-by': 'alice' });
      expect(report.thirdParty.caveats).toContain('declared approved-by alice');
      expect(report.thirdParty.withoutDischarge).toBe('ERR_DISCHARGE_MISSING');
    });

    it('a hono app behind macaroonAuth answers through app.fetch in the page: 200, 403, 401, 403', () => {
      const [allowed, wrongIp, none, wrongOp] = report.hono;
      expect(allowed).toEqual({ status: 200, body: 'hello browser-1', wwwAuthenticate: null });
      expect(wrongIp?.status).toBe(403);
      expect(JSON.parse(wrongIp!.body)).toMatchObject({ error: { code: 'ERR_CAVEAT_FAILED', details: { caveat: 'client-ip 10.0.0.0/8' } } });
      expect(wrongIp?.wwwAuthenticate).toContain('insufficient_scope');
      expect(none?.status).toBe(401);
      expect(none?.wwwAuthenticate).toMatch(/^Macaroon/);
      expect(wrongOp?.status).toBe(403);
      expect(JSON.parse(wrongOp!.body)).toMatchObject({ error: { details: { caveat: 'ops read' } } });
    });
  });
});

describe('optional database drivers', () => {
  it('a missing driver is ERR_CONFIG naming the package to install; other load failures pass through', async () => {
    const missing = loadOptionalPackage('tessera-no-such-driver', 'the embedded database', () => import('tessera-no-such-driver' as string));
    await expect(missing).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: 'the embedded database needs the package tessera-no-such-driver, which is not installed: npm install tessera-no-such-driver',
      details: { package: 'tessera-no-such-driver' },
    });
    const broken = new Error('driver crashed while loading');
    await expect(loadOptionalPackage('postgres', 'PostgreSQL', () => Promise.reject(broken))).rejects.toBe(broken);
    await expect(loadOptionalPackage('postgres', 'PostgreSQL', () => import('postgres'))).resolves.toHaveProperty('default');
  });
});
