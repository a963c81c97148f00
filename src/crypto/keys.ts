/**
 * Key material for macaroons: the libmacaroons key derivation, and the secretbox that hides
 * a third-party caveat's key inside its verification id.
 */
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { TesseraError, invalidArgument } from '../errors.js';
import { utf8 } from './bytes.js';
import { hmacSha256 } from './hmac.js';

/**
 * A root or caveat key. Strings and bytes go through the standard derivation
 * `HMAC-SHA256(key="macaroons-key-generator", msg=key)` (libmacaroons, go-macaroon,
 * js-macaroon all do this); `{ raw }` is a 32-byte key used as is, which saves the
 * derivation on every verification when the key is already uniformly random.
 */
export type KeyInput = string | Uint8Array | { readonly raw: Uint8Array };

const GENERATOR = utf8('macaroons-key-generator');

export function deriveKey(key: KeyInput, what = 'key'): Uint8Array {
  if (typeof key === 'string') {
    // Lone surrogates all encode to U+FFFD: distinct strings must not derive one key.
    if (!key.isWellFormed()) throw invalidArgument(`${what} is not valid Unicode text`, { field: what });
    return hmacSha256(GENERATOR, utf8(key));
  }
  if (key instanceof Uint8Array) return hmacSha256(GENERATOR, key);
  if (key !== null && typeof key === 'object' && key.raw instanceof Uint8Array) {
    if (key.raw.length !== 32) throw invalidArgument(`raw ${what} must be exactly 32 bytes`, { field: what });
    return key.raw.slice();
  }
  throw invalidArgument(`${what} must be a string, bytes, or { raw: 32 bytes }`, { field: what });
}

export const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;
/** A verification id: nonce(24) || secretbox(32-byte key) (16-byte tag + 32 bytes). */
const VID_LENGTH = NONCE_LENGTH + TAG_LENGTH + 32;

/** Seal a 32-byte caveat root key under the macaroon's current signature. */
export function sealCaveatKey(signature: Uint8Array, caveatRootKey: Uint8Array, nonce: Uint8Array = randomBytes(NONCE_LENGTH)): Uint8Array {
  if (nonce.length !== NONCE_LENGTH) throw invalidArgument('nonce must be 24 bytes', { field: 'nonce' });
  const out = new Uint8Array(VID_LENGTH);
  out.set(nonce, 0);
  out.set(xsalsa20poly1305(signature, nonce).encrypt(caveatRootKey), NONCE_LENGTH);
  return out;
}

/** Open a verification id; a wrong signature (an altered chain) fails authentication. */
export function openCaveatKey(signature: Uint8Array, vid: Uint8Array): Uint8Array {
  if (vid.length !== VID_LENGTH) {
    throw new TesseraError('ERR_SIGNATURE', 'third-party caveat verification id has the wrong length');
  }
  try {
    return xsalsa20poly1305(signature, vid.subarray(0, NONCE_LENGTH)).decrypt(vid.subarray(NONCE_LENGTH));
  } catch {
    throw new TesseraError('ERR_SIGNATURE', 'third-party caveat verification id does not open: the chain was altered');
  }
}
