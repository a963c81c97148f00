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
