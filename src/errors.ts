/**
 * Tessera's one error hierarchy.
 *
 * Every failure the library or its services report is a `TesseraError` with a stable,
 * machine-readable `code` (switch on it; messages may change). Messages name what was wrong but
 * never contain a token, a key, a session id or any other secret: they are safe to log and to
 * return to a client.
 */

/**
 * Every error code. The HTTP status each is answered with lives with the HTTP layer
 * (`ERROR_STATUS` in src/http/status.ts, exported by `tessera/hono`).
 */
export const ERROR_CODES = [
  /** A token or other encoded value is not well formed (truncated, trailing bytes, bad field…). */
  'ERR_MALFORMED',
  /** An input exceeds a configured bound (size, caveat count, discharge depth…). */
  'ERR_LIMIT',
  /** The HMAC chain does not verify: the token was altered or signed with another key. */
  'ERR_SIGNATURE',
  /** A third-party caveat has no discharge macaroon among those presented. */
  'ERR_DISCHARGE_MISSING',
  /** A discharge macaroon was presented but no caveat asked for it. */
  'ERR_DISCHARGE_UNUSED',
  /** A discharge would be used twice, or discharges refer to each other in a cycle. */
  'ERR_DISCHARGE_CYCLE',
  /** No root key is known for the token's identifier. */
  'ERR_KEY_UNKNOWN',
  /** The token's root key has been retired. */
  'ERR_KEY_RETIRED',
  /** The token (or one of its ancestors) has been revoked. */
  'ERR_REVOKED',
  /** A caveat names a condition this verifier does not understand (fails closed). */
  'ERR_CAVEAT_UNKNOWN',
  /** A caveat's argument does not parse (fails closed). */
  'ERR_CAVEAT_MALFORMED',
  /** A caveat was understood and is not satisfied by the request. */
  'ERR_CAVEAT_FAILED',
  /** A usage-limited token or discharge has been used up. */
  'ERR_USAGE_EXCEEDED',
  /** No credentials were presented. */
  'ERR_UNAUTHENTICATED',
  /** Credentials were presented but do not grant this action. */
  'ERR_FORBIDDEN',
  /**
   * An argument or request field is missing, of the wrong type or shape, or out of range: the
   * one code for a caller's mistake, whether the caller is a program or an HTTP client.
   */
  'ERR_INVALID_ARGUMENT',
  /** The thing asked for does not exist. */
  'ERR_NOT_FOUND',
  /** The request conflicts with the current state (already decided, already exists…). */
  'ERR_CONFLICT',
  /** A browser form was posted without a valid CSRF token or from another origin. */
  'ERR_CSRF',
  /** Too many attempts; try again later. */
  'ERR_RATE_LIMITED',
  /** A person must still decide (approval pending). */
  'ERR_PENDING',
  /** A person denied the request, or it expired before anyone decided. */
  'ERR_DENIED',
  /** A third-party discharge service refused or could not be reached. */
  'ERR_THIRD_PARTY',
  /** Decryption of data at rest failed (wrong master key or tampered data). */
  'ERR_CRYPTO',
  /** The service is misconfigured (missing master key, bad option…). */
  'ERR_CONFIG',
  /** The database failed. */
  'ERR_STORAGE',
  /** An unexpected failure (a bug); the details stay in the server's log. */
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** True when `value` is one of Tessera's error codes (e.g. read from a JSON error body). */
export const isErrorCode = (value: unknown): value is ErrorCode => typeof value === 'string' && KNOWN_CODES.has(value);

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
