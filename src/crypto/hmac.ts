/**
 * HMAC-SHA256, the primitive every macaroon signature is chained with.
 *
 * Verification runs one HMAC per caveat on every request, so this is the hot path. The
 * general `hmac(sha256, key, msg)` from @noble/hashes builds two hash objects and pads per
 * call; here the two SHA-256 states and the pad buffer are reused, and a fresh state is
 * restored by cloning a never-updated instance into them, so a call allocates only its output.
 * The result is the same HMAC (RFC 2104), checked against @noble/hashes in the tests.
 */
import { sha256 } from '@noble/hashes/sha2.js';

const BLOCK = 64;
const fresh = sha256.create();
const inner = sha256.create();
const outer = sha256.create();
const pad = new Uint8Array(BLOCK);
const innerDigest = new Uint8Array(32);
const longKey = new Uint8Array(32);

/** HMAC-SHA256(key, message) into `out` (32 bytes), or a new array. */
export function hmacSha256(key: Uint8Array, message: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  let k = key;
  if (k.length > BLOCK) {
    fresh._cloneInto(inner).update(k).digestInto(longKey);
    k = longKey;
  }
  pad.fill(0x36);
  for (let i = 0; i < k.length; i++) pad[i] = (pad[i] as number) ^ (k[i] as number);
  fresh._cloneInto(inner).update(pad).update(message).digestInto(innerDigest);
  pad.fill(0x5c);
  for (let i = 0; i < k.length; i++) pad[i] = (pad[i] as number) ^ (k[i] as number);
  fresh._cloneInto(outer).update(pad).update(innerDigest).digestInto(out);
  pad.fill(0);
  innerDigest.fill(0);
  return out;
}
