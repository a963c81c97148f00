/**
 * How many cases a fast-check property tries. `npm test` runs each the number its test gives,
 * sized so that a property file takes seconds; TESSERA_PROPERTY_RUNS=<factor> multiplies every
 * count for a deeper search (before a release, or to chase a rare failure):
 *
 *   fc.assert(fc.property(...), runs(300));
 *   TESSERA_PROPERTY_RUNS=20 npx vitest run test/macaroon-properties.test.ts
 */
const factor = ((): number => {
  const text = process.env.TESSERA_PROPERTY_RUNS;
  if (text === undefined || text === '') return 1;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`TESSERA_PROPERTY_RUNS must be a positive number, not ${JSON.stringify(text)}`);
  return n;
})();

/** fast-check parameters for `n` runs (times TESSERA_PROPERTY_RUNS). */
export function runs(n: number): { readonly numRuns: number } {
  return { numRuns: Math.max(1, Math.round(n * factor)) };
}
