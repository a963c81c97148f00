/** Latency figures shared by the tests and benchmarks: nearest-rank percentiles, one summary line. */

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  /** Whether p95 is under the target. */
  readonly ok: boolean;
  /** `p50 … ms, p95 … ms, max … ms (target < … ms: met|MISSED)` */
  readonly text: string;
}

/** Summarise samples (ms) against a p95 target, with `digits` decimals. */
export function summarize(samples: readonly number[], targetMs: number, digits = 1): LatencySummary {
  const p50 = percentile(samples, 50);
  const p95 = percentile(samples, 95);
  const max = Math.max(...samples);
  const ok = p95 < targetMs;
  const ms = (v: number): string => `${v.toFixed(digits)} ms`;
  return { p50, p95, max, ok, text: `p50 ${ms(p50)}, p95 ${ms(p95)}, max ${ms(max)} (target < ${targetMs} ms: ${ok ? 'met' : 'MISSED'})` };
}

/**
 * After a revocation has answered, ask `verify` again until it refuses (or `limitMs` pass):
 * what it last answered, and how long after the start it still allowed the token, i.e. when
 * the first request it refused was sent. Not when that answer arrived, which adds one
 * request's latency (a quarter of a second, now and then, with the suite keeping both cores
 * busy) to what is measured.
 */
export async function untilRefused<T extends { readonly json: Record<string, unknown> }>(
  verify: () => Promise<T>,
  limitMs = 5000,
): Promise<{ answer: T; allowedForMs: number; answeredAfterMs: number }> {
  const t0 = performance.now();
  let sent = t0;
  let answer = await verify();
  while (answer.json.allowed === true && performance.now() - t0 < limitMs) {
    sent = performance.now();
    answer = await verify();
  }
  return { answer, allowedForMs: sent - t0, answeredAfterMs: performance.now() - t0 };
}
