/**
 * NaCl `crypto_box` (curve25519xsalsa20poly1305), the public-key authenticated encryption the
 * macaroon bakery seals third-party caveat ids with.
 *
 * @noble/ciphers ships only the symmetric half (`xsalsa20poly1305`, i.e. secretbox) and points to
 * another package for `crypto_box`, so the small key-agreement step lives here:
 * `k = HSalsa20(x25519(sk, pk), 0^16)` exactly as NaCl's `crypto_box_beforenm`, then secretbox.
 * The output layout is NaCl's: 16-byte Poly1305 tag followed by the ciphertext.
 */
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { u32, u8 } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { TesseraError, invalidArgument, malformed } from '../errors.js';

export const BOX_KEY_BYTES = 32;
export const BOX_NONCE_BYTES = 24;
/** Bytes a sealed box is longer than its message (the Poly1305 tag). */
export const BOX_OVERHEAD = 16;

// HSalsa20's constant, "expand 32-byte k", as it is fed to the core.
const SIGMA = new TextEncoder().encode('expand 32-byte k');

/** Throw ERR_INVALID_ARGUMENT unless `value` is a Uint8Array (of `length` bytes, when given). */
export function checkBytes(value: unknown, field: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) {
    throw invalidArgument(length === undefined ? `${field} must be bytes` : `${field} must be ${length} bytes`, { field });
  }
}

/**
 * The shared secretbox key between `secretKey` and `publicKey` (NaCl `crypto_box_beforenm`).
 * The caller owns the result and should wipe it after use.
 * Throws ERR_MALFORMED when `publicKey` is a low-order point (all-zero shared secret), like
 * libsodium does: such a key would make the "secret" key public.
 */
export function boxBeforenm(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkBytes(publicKey, 'publicKey', BOX_KEY_BYTES);
  checkBytes(secretKey, 'secretKey', BOX_KEY_BYTES);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch (cause) {
    throw new TesseraError('ERR_MALFORMED', 'public key is a low-order point', { field: 'publicKey' }, { cause });
  }
  // Fresh copies are 4-byte aligned, which the Uint32Array views need.
  const key32 = u32(Uint8Array.from(shared));
  const sigma32 = u32(Uint8Array.from(SIGMA));
  const out32 = new Uint32Array(8);
  hsalsa(sigma32, key32, new Uint32Array(4), out32);
  const k = Uint8Array.from(u8(out32));
  shared.fill(0);
  key32.fill(0);
  out32.fill(0);
  return k;
}

/** Seal `message` for `publicKey` from `secretKey` (NaCl `crypto_box`): tag(16) | ciphertext. */
export function box(message: Uint8Array, nonce: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkBytes(message, 'message');
  checkBytes(nonce, 'nonce', BOX_NONCE_BYTES);
  const k = boxBeforenm(publicKey, secretKey);
  try {
    return xsalsa20poly1305(k, nonce).encrypt(message);
  } finally {
    k.fill(0);
  }
}

/**
 * Open a box sealed by `publicKey` for `secretKey` (NaCl `crypto_box_open`).
 * Throws ERR_MALFORMED when it is too short or does not authenticate; the tag check is
 * @noble/ciphers' constant-time one.
 */
export function boxOpen(sealed: Uint8Array, nonce: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkBytes(sealed, 'sealed');
  checkBytes(nonce, 'nonce', BOX_NONCE_BYTES);
  if (sealed.length < BOX_OVERHEAD) throw malformed('sealed box is truncated');
  const k = boxBeforenm(publicKey, secretKey);
  try {
    return xsalsa20poly1305(k, nonce).decrypt(sealed);
  } catch (cause) {
    throw new TesseraError('ERR_MALFORMED', 'sealed box does not authenticate', {}, { cause });
  } finally {
    k.fill(0);
  }
}
