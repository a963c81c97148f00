/**
 * Tessera's one error hierarchy.
 *
 * Every failure the library or its services report is a `TesseraError` with a stable,
 * machine-readable `code` (switch on it; messages may change) and the HTTP status that code maps
 * to. Messages name what was wrong but never contain a token, a key, a session id or any other
 * secret: they are safe to log and to return to a client.
 */

/** Every error code, with the HTTP status an HTTP surface answers it with. */
export const ERROR_STATUS = {
  /** A token or other encoded value is not well formed (truncated, trailing bytes, bad field…). */
  ERR_MALFORMED: 400,
  /** An input exceeds a configured bound (size, caveat count, discharge depth…). */
  ERR_LIMIT: 400,
  /** The HMAC chain does not verify: the token was altered or signed with another key. */
  ERR_SIGNATURE: 401,
  /** A third-party caveat has no discharge macaroon among those presented. */
  ERR_DISCHARGE_MISSING: 401,
  /** A discharge macaroon was presented but no caveat asked for it. */
  ERR_DISCHARGE_UNUSED: 401,
  /** A discharge would be used twice, or discharges refer to each other in a cycle. */
  ERR_DISCHARGE_CYCLE: 401,
  /** No root key is known for the token's identifier. */
  ERR_KEY_UNKNOWN: 401,
  /** The token's root key has been retired. */
  ERR_KEY_RETIRED: 401,
  /** The token (or one of its ancestors) has been revoked. */
  ERR_REVOKED: 401,
  /** A caveat names a condition this verifier does not understand (fails closed). */
  ERR_CAVEAT_UNKNOWN: 403,
  /** A caveat's argument does not parse (fails closed). */
  ERR_CAVEAT_MALFORMED: 403,
  /** A caveat was understood and is not satisfied by the request. */
  ERR_CAVEAT_FAILED: 403,
  /** A usage-limited token or discharge has been used up. */
  ERR_USAGE_EXCEEDED: 403,
  /** No credentials were presented. */
  ERR_UNAUTHENTICATED: 401,
  /** Credentials were presented but do not grant this action. */
  ERR_FORBIDDEN: 403,
  /** A request to an HTTP API is not acceptable (bad JSON, missing field…). */
  ERR_BAD_REQUEST: 400,
  /** The calling program passed an argument of the wrong type or shape. */
  ERR_INVALID_ARGUMENT: 400,
  /** The thing asked for does not exist. */
  ERR_NOT_FOUND: 404,
  /** The request conflicts with the current state (already decided, already exists…). */
  ERR_CONFLICT: 409,
  /** A browser form was posted without a valid CSRF token or from another origin. */
  ERR_CSRF: 403,
  /** Too many attempts; try again later. */
  ERR_RATE_LIMITED: 429,
  /** A person must still decide (approval pending). */
  ERR_PENDING: 202,
  /** A person denied the request, or it expired before anyone decided. */
  ERR_DENIED: 403,
  /** A third-party discharge service refused or could not be reached. */
  ERR_THIRD_PARTY: 502,
  /** Decryption of data at rest failed (wrong master key or tampered data). */
  ERR_CRYPTO: 500,
  /** The service is misconfigured (missing master key, bad option…). */
  ERR_CONFIG: 500,
  /** The database failed. */
  ERR_STORAGE: 500,
  /** An unexpected failure (a bug); the details stay in the server's log. */
  ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Structured, non-secret details an error may carry (e.g. which caveat failed and why). */
export interface ErrorDetails {
  /** The caveat text that failed, for caveat errors. Caveat text is not secret. */
  readonly caveat?: string;
  /** Why it failed, in words. */
  readonly reason?: string;
  /** The input field or argument at fault. */
  readonly field?: string;
  /** Anything else, as long as it holds no secrets. */
  readonly [key: string]: unknown;
}

export class TesseraError extends Error {
  override readonly name: string = 'TesseraError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = Object.freeze({ ...details });
  }

  /** The HTTP status this error maps to. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }

  /** A JSON body for HTTP answers: code, message and details, nothing else. */
  toJSON(): { error: { code: ErrorCode; message: string; details?: ErrorDetails } } {
    const hasDetails = Object.keys(this.details).length > 0;
    return { error: { code: this.code, message: this.message, ...(hasDetails ? { details: this.details } : {}) } };
  }
}

/** True when `e` is a TesseraError (optionally with the given code). */
export function isTesseraError(e: unknown, code?: ErrorCode): e is TesseraError {
  return e instanceof TesseraError && (code === undefined || e.code === code);
}

/** Throw helpers for the common cases, so call sites read as what they check. */
export const malformed = (message: string, details?: ErrorDetails): TesseraError =>
  new TesseraError('ERR_MALFORMED', message, details);
export const limit = (message: string, details?: ErrorDetails): TesseraError =>
  new TesseraError('ERR_LIMIT', message, details);
export const invalidArgument = (message: string, details?: ErrorDetails): TesseraError =>
  new TesseraError('ERR_INVALID_ARGUMENT', message, details);
