/** The request-time verifier, its verification cache, and its `uses n` counters. */
export { Verifier } from './verifier.js';
export type {
  ExplainedCaveat,
  Explanation,
  RevocationCheck,
  TokenInput,
  Verified,
  VerifierOptions,
  VerifyRequest,
} from './verifier.js';
export { MemoryUsageCounter } from './usage.js';
export type { MemoryUsageCounterOptions, UsageCounter } from './usage.js';
