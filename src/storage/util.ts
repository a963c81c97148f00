/**
 * Helpers shared by the storage repositories: argument checks, secret hashing, and turning
 * database failures into TesseraErrors.
 *
 * drizzle's query errors carry the SQL parameters in their message (sealed keys, hashes…), so
 * no such error may escape: `guard` rethrows them as ERR_STORAGE with only the driver's own
 * error (whose message names no parameter) as cause, and maps constraint violations to
 * ERR_CONFLICT / ERR_NOT_FOUND.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { DrizzleQueryError } from 'drizzle-orm';
import { TesseraError, invalidArgument, limit as limitError } from '../errors.js';

/** Upper bound on identifiers, names and other short text (also keeps NOTIFY payloads small). */
const MAX_TEXT = 1024;
/** Upper bound on longer text (conditions, reasons, tickets). */
export const MAX_LONG_TEXT = 64 * 1024;
/** Upper bound on a serialised JSON column value. */
const MAX_JSON = 16 * 1024;
/** Secrets we hash (poll tokens, session ids, CSRF tokens) must be at least this long. */
const MIN_SECRET = 16;

const encoder = new TextEncoder();

/** SHA-256 of a secret's UTF-8 bytes: what we store instead of the secret. */
export function hashSecret(secret: string): Uint8Array {
  return sha256(encoder.encode(secret));
}

export function checkText(field: string, value: unknown, max: number = MAX_TEXT): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(`${field} must be a non-empty string`, { field });
  if (value.length > max) throw limitError(`${field} is too long (at most ${max} characters)`, { field });
  return value;
}

export function checkOptionalText(field: string, value: unknown, max: number = MAX_TEXT): string | null {
  return value === undefined || value === null ? null : checkText(field, value, max);
}

export function checkSecret(field: string, value: unknown): string {
  const s = checkText(field, value);
  if (s.length < MIN_SECRET) throw invalidArgument(`${field} is too short to be unguessable`, { field });
  return s;
}

/** An optional boolean (default false). */
export function checkFlag(field: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgument(`${field} must be true or false`, { field });
  return value;
}

export function checkDate(field: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw invalidArgument(`${field} must be a valid Date`, { field });
  return value;
}

export function checkOptionalDate(field: string, value: unknown): Date | null {
  return value === undefined || value === null ? null : checkDate(field, value);
}

export function checkInt(field: string, value: unknown, min: number, max: number = 2 ** 31 - 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(`${field} must be an integer from ${min} to ${max}`, { field });
  }
  return value;
}

/** A page size: default `dflt`, at most `max`. */
export function checkPageSize(value: number | undefined, dflt: number, max: number): number {
  return value === undefined ? dflt : checkInt('limit', value, 1, max);
}

/** A JSON object, bounded in size, copied through JSON so only plain data is stored. */
export function checkJsonObject<T>(field: string, value: unknown): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${field} must be a JSON object`, { field });
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    throw invalidArgument(`${field} must be JSON-serialisable`, { field });
  }
  if (text.length > MAX_JSON) throw limitError(`${field} is too large (at most ${MAX_JSON} bytes of JSON)`, { field });
  return JSON.parse(text) as T;
}

/** The SQLSTATE of a driver error anywhere in `e`'s cause chain. */
function sqlState(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur !== null && typeof cur === 'object' && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What of a driver error may travel as a cause: its SQLSTATE, constraint and table. Drivers
 * attach the query and its parameters (PGlite as plain fields, drizzle in its message), and
 * parameters can be password hashes, tickets or discharges, so nothing else is kept.
 */
function safeCause(e: unknown): { readonly code?: string; readonly constraint?: string; readonly table?: string } | undefined {
  const source = e instanceof DrizzleQueryError ? e.cause : e;
  if (source === null || typeof source !== 'object') return undefined;
  const pick = (key: string): string | undefined => {
    const v = (source as Record<string, unknown>)[key];
    return typeof v === 'string' && v.length <= 128 ? v : undefined;
  };
  const code = sqlState(e);
  const constraint = pick('constraint') ?? pick('constraint_name');
  const table = pick('table') ?? pick('table_name');
  return { ...(code !== undefined ? { code } : {}), ...(constraint !== undefined ? { constraint } : {}), ...(table !== undefined ? { table } : {}) };
}

/** A database failure as a TesseraError (see module comment); TesseraErrors pass unchanged. */
export function storageError(operation: string, e: unknown): TesseraError {
  if (e instanceof TesseraError) return e;
  const state = sqlState(e);
  const cause = safeCause(e);
  const options = cause === undefined ? {} : { cause };
  if (state === '23505') return new TesseraError('ERR_CONFLICT', `${operation}: it already exists`, { sqlState: state }, options);
  if (state === '23503') return new TesseraError('ERR_NOT_FOUND', `${operation}: a referenced row does not exist`, { sqlState: state }, options);
  return new TesseraError('ERR_STORAGE', `${operation} failed`, state === undefined ? {} : { sqlState: state }, options);
}

/** Run a database operation, translating failures into TesseraErrors (see module comment). */
export async function guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw storageError(operation, e);
  }
}
