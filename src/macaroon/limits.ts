/**
 * Bounds on what a decoder or verifier accepts from a stranger. The defaults are generous for
 * real tokens (a few hundred bytes, a handful of caveats) and small enough that hostile input
 * costs little.
 */
import { invalidArgument } from '../errors.js';

export interface Limits {
  /** Largest encoded token accepted, in bytes of binary (before base64). */
  readonly maxBytes: number;
  /** Most caveats one macaroon may carry. */
  readonly maxCaveats: number;
  /** Most discharge macaroons accepted with one request. */
  readonly maxDischarges: number;
  /** Deepest chain of discharges that discharge each other's third-party caveats. */
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxBytes: 16 * 1024,
  maxCaveats: 128,
  maxDischarges: 32,
  maxDepth: 8,
});

export function resolveLimits(partial?: Partial<Limits>): Limits {
  if (partial === undefined) return DEFAULT_LIMITS;
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw invalidArgument(`limit ${name} must be a positive integer`, { field: name });
  }
  return Object.freeze(limits);
}
