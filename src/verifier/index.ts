/** The request-time verifier and its verification cache. */
export { Verifier } from './verifier.js';
export type {
  ExplainedCaveat,
  Explanation,
  RevocationCheck,
  TokenInput,
  UsageCounter,
  Verified,
  VerifierOptions,
  VerifyRequest,
} from './verifier.js';
