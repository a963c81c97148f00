/**
 * The HTTP status each error code is answered with: one table, for every Tessera HTTP surface
 * (the shared error handler, `macaroonAuth`, the approval pages) and for clients reading an
 * answer. It lives with the HTTP layer; the codes themselves are in src/errors.ts.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode, TesseraError } from '../errors.js';

export const ERROR_STATUS: { readonly [C in ErrorCode]: ContentfulStatusCode } = Object.freeze({
  ERR_MALFORMED: 400,
  ERR_LIMIT: 400,
  ERR_SIGNATURE: 401,
  ERR_DISCHARGE_MISSING: 401,
  ERR_DISCHARGE_UNUSED: 401,
  ERR_DISCHARGE_CYCLE: 401,
  ERR_KEY_UNKNOWN: 401,
  ERR_KEY_RETIRED: 401,
  ERR_REVOKED: 401,
  ERR_CAVEAT_UNKNOWN: 403,
  ERR_CAVEAT_MALFORMED: 403,
  ERR_CAVEAT_FAILED: 403,
  ERR_USAGE_EXCEEDED: 403,
  ERR_UNAUTHENTICATED: 401,
  ERR_FORBIDDEN: 403,
  ERR_INVALID_ARGUMENT: 400,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_CSRF: 403,
  ERR_RATE_LIMITED: 429,
  ERR_PENDING: 202,
  ERR_DENIED: 403,
  ERR_THIRD_PARTY: 502,
  ERR_CRYPTO: 500,
  ERR_CONFIG: 500,
  ERR_STORAGE: 500,
  ERR_INTERNAL: 500,
});

/** The HTTP status a TesseraError (or a code) is answered with. */
export const httpStatus = (e: TesseraError | ErrorCode): ContentfulStatusCode => ERROR_STATUS[typeof e === 'string' ? e : e.code];
