/**
 * HMAC-SHA256, the primitive every macaroon signature is chained with.
 *
 * Verification runs one HMAC per caveat on every request, so this is the hot path. The general
 * `hmac(sha256, key, msg)` from @noble/hashes builds two hash objects, copies the padded key in
 * through `update` (which wraps each full block in a new DataView) and zero-fills its schedule
 * after every update. Here one noble SHA-256 engine is driven block by block through its own
 * compression function (`process`), over one reused block buffer: an HMAC of a short message is
 * exactly its four compressions, and a call allocates only its output. The key's two padded
 * states can also be reused, which `hmacSha256OfPair` does for the third-party/binding step.
 * The result is the same HMAC (RFC 2104): checked against @noble/hashes when this module loads
 * and in the tests.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { _SHA256, sha256 } from '@noble/hashes/sha2.js';
import { TesseraError } from '../errors.js';

/** The protected part of noble's SHA-256 this module drives: the state words and one compression. */
interface Sha256Engine {
  A: number;
  B: number;
  C: number;
  D: number;
  E: number;
  F: number;
  G: number;
  H: number;
  process(view: DataView, offset: number): void;
  roundClean(): void;
}

const BLOCK = 64;
const engine = new _SHA256() as unknown as Sha256Engine;
const fresh = new _SHA256() as unknown as Sha256Engine;
/** SHA-256's initial state, as noble's engine starts. */
const IV = Int32Array.of(fresh.A, fresh.B, fresh.C, fresh.D, fresh.E, fresh.F, fresh.G, fresh.H);
const block = new Uint8Array(BLOCK);
const view = new DataView(block.buffer);
const digest = new Uint8Array(32);
const digestView = new DataView(digest.buffer);
/** Scratch key states: [0, 8) after key^ipad, [8, 16) after key^opad. */
const keyState = new Int32Array(16);

function load(state: Int32Array, at: number): void {
  engine.A = state[at] as number;
  engine.B = state[at + 1] as number;
  engine.C = state[at + 2] as number;
  engine.D = state[at + 3] as number;
  engine.E = state[at + 4] as number;
  engine.F = state[at + 5] as number;
  engine.G = state[at + 6] as number;
  engine.H = state[at + 7] as number;
}

function store(state: Int32Array, at: number): void {
  state[at] = engine.A;
  state[at + 1] = engine.B;
  state[at + 2] = engine.C;
  state[at + 3] = engine.D;
  state[at + 4] = engine.E;
  state[at + 5] = engine.F;
  state[at + 6] = engine.G;
  state[at + 7] = engine.H;
}

/** The engine's state words, big-endian, into the first 32 bytes of `target`. */
function writeState(target: DataView): void {
  target.setInt32(0, engine.A);
  target.setInt32(4, engine.B);
  target.setInt32(8, engine.C);
  target.setInt32(12, engine.D);
  target.setInt32(16, engine.E);
  target.setInt32(20, engine.F);
  target.setInt32(24, engine.G);
  target.setInt32(28, engine.H);
}

/** HMAC's two starting states for `key`: SHA-256 after one block of key^ipad, and of key^opad. */
function prepare(key: Uint8Array): void {
  const k = key.length > BLOCK ? sha256(key) : key;
  for (let pass = 0; pass < 2; pass++) {
    block.fill(pass === 0 ? 0x36 : 0x5c);
    for (let i = 0; i < k.length; i++) block[i] = (block[i] as number) ^ (k[i] as number);
    load(IV, 0);
    engine.process(view, 0);
    store(keyState, pass * 8);
  }
}

/** HMAC of `message` from the prepared key states, into `digest`. */
function finish(message: Uint8Array): void {
  // Inner hash: the message after the key^ipad block, then SHA-256 padding.
  load(keyState, 0);
  const len = message.length;
  let pos = 0;
  for (; len - pos >= BLOCK; pos += BLOCK) {
    block.set(message.subarray(pos, pos + BLOCK));
    engine.process(view, 0);
  }
  const rest = len - pos;
  block.set(pos === 0 ? message : message.subarray(pos));
  block[rest] = 0x80;
  block.fill(0, rest + 1);
  if (rest >= BLOCK - 8) {
    engine.process(view, 0);
    block.fill(0);
  }
  const bits = (BLOCK + len) * 8;
  view.setUint32(BLOCK - 8, Math.floor(bits / 0x100000000));
  view.setUint32(BLOCK - 4, bits >>> 0);
  engine.process(view, 0);
  // Outer hash: the 32-byte inner digest after the key^opad block, padded: one block.
  writeState(view);
  block[32] = 0x80;
  block.fill(0, 33, BLOCK - 4);
  view.setUint32(BLOCK - 4, (BLOCK + 32) * 8);
  load(keyState, 8);
  engine.process(view, 0);
  writeState(digestView);
}

/** Leave no key-derived state behind in the shared buffers. */
function wipe(): void {
  block.fill(0);
  digest.fill(0);
  keyState.fill(0);
  load(keyState, 0);
  engine.roundClean();
}

/** HMAC-SHA256(key, message) into `out` (32 bytes), or a new array. */
export function hmacSha256(key: Uint8Array, message: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  prepare(key);
  finish(message);
  out.set(digest);
  wipe();
  return out;
}

/**
 * HMAC(key, HMAC(key, a) || HMAC(key, b)): the third-party caveat and discharge binding step.
 * The key's padded states are computed once for the three HMACs.
 */
export function hmacSha256OfPair(key: Uint8Array, a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(64);
  prepare(key);
  finish(a);
  both.set(digest, 0);
  finish(b);
  both.set(digest, 32);
  finish(both);
  const out = digest.slice();
  both.fill(0);
  wipe();
  return out;
}

// This module relies on noble internals (pinned version): refuse to load if they changed.
{
  const key = Uint8Array.from({ length: 70 }, (_, i) => i);
  for (const [k, m] of [
    [key.subarray(0, 32), key.subarray(0, 56)],
    [key, key.subarray(0, 64)],
  ] as const) {
    const expected = hmac(sha256, k, m);
    const got = hmacSha256(k, m);
    for (let i = 0; i < 32; i++) {
      if (got[i] !== expected[i]) throw new TesseraError('ERR_CONFIG', 'HMAC-SHA256 self-check failed: @noble/hashes internals changed');
    }
  }
}
