/**
 * Approver passwords, hashed with scrypt: Node's own (`node:crypto`, OpenSSL), which runs on
 * libuv's thread pool, so a login never stalls the event loop, at ~40% of the CPU of a
 * JavaScript scrypt (the same bytes for the same parameters: hashes made before still verify).
 * This module is server-side (the pages, the CLI), never part of the portable core.
 *
 * Stored form: `scrypt$N$r$p$salt$hash` (salt and hash unpadded base64url), so the cost can be
 * raised later without breaking existing hashes. Parameters read back from the
 * database are bounded: a tampered row cannot make one login take gigabytes of memory.
 * Passwords are NFC-normalised so the same password typed in a terminal and in a browser
 * matches whatever composition each produced.
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { scrypt } from 'node:crypto';
import { randomBytes } from '@noble/hashes/utils.js';
import { base64Decode, base64url, utf8 } from '../../crypto/bytes.js';
import { TesseraError, invalidArgument } from '../../errors.js';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/** 2^15 · 8 · 128 bytes = 32 MiB and a few hundred milliseconds per hash. */
export const DEFAULT_SCRYPT: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MAX_MEMORY = 256 * 1024 * 1024;

/** `params` if they are in bounds, else ERR_INVALID_ARGUMENT. */
export function checkScryptParams(params: ScryptParams): ScryptParams {
  const { N, r, p } = params;
  const ok =
    Number.isSafeInteger(N) && N >= 2 ** 10 && N <= 2 ** 20 && (N & (N - 1)) === 0 &&
    Number.isSafeInteger(r) && r >= 1 && r <= 32 &&
    Number.isSafeInteger(p) && p >= 1 && p <= 16 &&
    128 * N * r * p <= MAX_MEMORY;
  if (!ok) throw invalidArgument('scrypt parameters out of range (N a power of two 2^10..2^20, r 1..32, p 1..16)');
  return params;
}

const derive = (password: string, salt: Uint8Array, { N, r, p }: ScryptParams): Promise<Uint8Array> =>
  new Promise((resolve, reject) =>
    scrypt(utf8(password.normalize('NFC')), salt, HASH_BYTES, { N, r, p, maxmem: MAX_MEMORY + 1024 * 1024 }, (e, key) => (e === null ? resolve(new Uint8Array(key)) : reject(e))),
  );

/** Throws ERR_INVALID_ARGUMENT unless `password` is acceptable as a new password. */
export function checkNewPassword(password: unknown): string {
  if (typeof password !== 'string') throw invalidArgument('the password must be text', { field: 'password' });
  const length = [...password.normalize('NFC')].length;
  if (length < MIN_PASSWORD_LENGTH) throw invalidArgument(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`, { field: 'password' });
  if (password.length > MAX_PASSWORD_LENGTH) throw new TesseraError('ERR_LIMIT', `the password is too long (at most ${MAX_PASSWORD_LENGTH} characters)`, { field: 'password' });
  return password;
}

/** Hash a new password with a fresh random salt. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  checkNewPassword(password);
  const { N, r, p } = checkScryptParams(params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${base64url(salt)}$${base64url(hash)}`;
}

interface Parsed {
  readonly params: ScryptParams;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

const DECIMAL = /^[1-9][0-9]{0,8}$/;

function parseHash(encoded: string): Parsed | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  if (!DECIMAL.test(n) || !DECIMAL.test(r) || !DECIMAL.test(p)) return undefined;
  try {
    const params = checkScryptParams({ N: Number(n), r: Number(r), p: Number(p) });
    const parsed = { params, salt: base64Decode(salt, 'salt'), hash: base64Decode(hash, 'hash') };
    return parsed.salt.length >= SALT_BYTES && parsed.hash.length === HASH_BYTES ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** True when `encoded` is a password hash this module can verify. */
export const isPasswordHash = (encoded: string): boolean => parseHash(encoded) !== undefined;

/**
 * Check a password against a stored hash, comparing in constant time. False for a wrong
 * password, an over-long one, or a hash that does not parse (never throws for bad input).
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) return false;
  const parsed = typeof encoded === 'string' ? parseHash(encoded) : undefined;
  if (parsed === undefined) return false;
  const actual = await derive(password, parsed.salt, parsed.params);
  return equalBytes(actual, parsed.hash);
}

const DUMMY_SALT = randomBytes(SALT_BYTES);

/**
 * The same work as verifying against a hash of cost `params` (the cost new hashes are made at),
 * always false: run for unknown user names so a login's timing does not tell which names exist.
 */
export async function dummyVerify(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<false> {
  await derive(typeof password === 'string' ? password.slice(0, MAX_PASSWORD_LENGTH) : '', DUMMY_SALT, checkScryptParams(params));
  return false;
}
