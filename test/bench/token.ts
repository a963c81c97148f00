/**
 * Token-core throughput: mint, attenuate, and decode + verifySignature of a token as it arrives
 * in a request (unpadded base64url V2 text), side by side with js-macaroon and jose, and with
 * the bare HMAC-SHA256 calls the chain is made of.
 *
 *   npm run bench            (all modules)      npx tsx test/bench/token.ts   (this one)
 *
 * Same work for each peer, on the same tokens:
 *   Tessera raw       Macaroon.decode(text) + verifySignature(m, { raw }): the key is already the
 *                     derived 32-byte key, so the chain is exactly 1 + n HMACs (6 for 5 caveats)
 *   Tessera string    the same with the string root key: one more HMAC to derive it each time
 *   js-macaroon       importMacaroon(text) + verify(rootKeyString, () => null): the same V2 text;
 *                     it has no raw-key API and derives from the string on every verify (makeKey)
 *   jose HS256        jwtVerify(jwt, key) of a JWT with a jti and one claim per caveat (the same
 *                     strings), its 32-byte secret imported once as a KeyObject (its best case)
 * Only the chain is checked here (no caveat is evaluated), as jose checks no custom claim.
 * Targets at 5 caveats: >= 2x js-macaroon, >= 2.5x jose, and at most 1.3x the time of 6 bare
 * `hmac(sha256, key32, msg32)` calls from @noble/hashes.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SignJWT, jwtVerify } from 'jose';
import jsMacaroon from 'macaroon';
import { createSecretKey } from 'node:crypto';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Macaroon, verifySignature } from '../../src/index.js';
import { deriveKey } from '../../src/crypto/keys.js';

const ROOT_KEY = 'bench root key, derived like libmacaroons does';
const RAW = { raw: deriveKey(ROOT_KEY) };
const IDENTIFIER = 'tok_8c1f2e4a9b7d3c6e5f0a1b2c';
const CONDITIONS = [
  'time-before 2030-01-01T00:00:00Z',
  'ops read,list',
  'resource /docs/**',
  'method GET,HEAD',
  'aud docs',
  'client-ip 10.0.0.0/8',
  'declared user alice',
  'time-after 2024-01-01T00:00:00Z',
];
const condition = (i: number): string => `${CONDITIONS[i % CONDITIONS.length]}${i >= CONDITIONS.length ? ` #${i}` : ''}`;
const COUNTS = [0, 5, 20] as const;

const WARMUP_MS = 300;
const RUN_MS = 1000;
/** Results go here so no call can be optimised away. */
let sink = 0;

/** ops/s of `fn`, after a warm-up, over about RUN_MS (batches between clock reads). */
async function measure(fn: () => unknown, asynchronous = false): Promise<number> {
  const batch = async (n: number): Promise<void> => {
    if (asynchronous) for (let i = 0; i < n; i++) sink ^= Number(((await fn()) as object | null) !== null);
    else for (let i = 0; i < n; i++) sink ^= Number((fn() as object | null) !== null);
  };
  let n = 16;
  for (const end = performance.now() + WARMUP_MS; performance.now() < end; ) await batch(n);
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < RUN_MS) {
    await batch(n);
    ops += n;
    now = performance.now();
    if (now - start < 50) n *= 2; // settle on batches of a few ms
  }
  return (ops * 1000) / (now - start);
}

function tesseraToken(n: number): string {
  let m = Macaroon.mint({ rootKey: ROOT_KEY, identifier: IDENTIFIER, location: 'https://docs.example' });
  for (let i = 0; i < n; i++) m = m.addFirstPartyCaveat(condition(i));
  return m.encode();
}

async function jwtFor(n: number, secret: Uint8Array): Promise<string> {
  const claims: Record<string, string> = {};
  for (let i = 0; i < n; i++) claims[`c${i}`] = condition(i);
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setJti(IDENTIFIER).sign(secret);
}

const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const us = (opsPerSecond: number): string => fmt(1e6 / opsPerSecond, 2);

function table(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  rows.forEach((r, i) => {
    console.log(r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('   ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('   '));
  });
}

export async function run(): Promise<void> {
  const secret = deriveKey('jose bench secret');
  const joseKey = createSecretKey(secret);
  const key32 = new Uint8Array(32).fill(0x42);
  const msg32 = new Uint8Array(32).fill(0x17);

  // Sanity: every peer accepts its token before anything is timed.
  const tokens = new Map<number, { text: string; jwt: string }>();
  for (const n of COUNTS) {
    const text = tesseraToken(n);
    const jwt = await jwtFor(n, secret);
    if (verifySignature(Macaroon.decode(text), RAW)[0]?.conditions.length !== n) throw new Error('Tessera refused its bench token');
    jsMacaroon.importMacaroon(text).verify(ROOT_KEY, () => null);
    if ((await jwtVerify(jwt, joseKey)).payload.jti !== IDENTIFIER) throw new Error('jose refused its bench token');
    tokens.set(n, { text, jwt });
  }

  console.log(`Token benchmark: Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, one core, ${RUN_MS} ms per row after ${WARMUP_MS} ms warm-up.`);
  console.log('Tessera "raw": root key given as { raw: 32 bytes } (already derived), so decode + verify of an n-caveat');
  console.log('token runs exactly 1 + n HMAC-SHA256 (6 at 5 caveats). "string": the string key, derived on every');
  console.log('verify (one HMAC more), as js-macaroon always does. All verify the same V2 base64url text.\n');

  const mintOps = await measure(() => Macaroon.mint({ rootKey: RAW, identifier: IDENTIFIER }));
  const five = Macaroon.decode(tokens.get(5)!.text);
  const addOps = await measure(() => five.addFirstPartyCaveat('ops read'));
  const hmacOps = await measure(() => hmac(sha256, key32, msg32));
  const hmac6Ops = await measure(() => {
    hmac(sha256, key32, msg32);
    hmac(sha256, key32, msg32);
    hmac(sha256, key32, msg32);
    hmac(sha256, key32, msg32);
    hmac(sha256, key32, msg32);
    return hmac(sha256, key32, msg32);
  });

  const verify: Record<number, { raw: number; string: number; js: number; jose: number }> = {};
  for (const n of COUNTS) {
    const { text, jwt } = tokens.get(n)!;
    verify[n] = {
      raw: await measure(() => verifySignature(Macaroon.decode(text), RAW)),
      string: await measure(() => verifySignature(Macaroon.decode(text), ROOT_KEY)),
      js: await measure(() => jsMacaroon.importMacaroon(text).verify(ROOT_KEY, () => null)),
      jose: await measure(() => jwtVerify(jwt, joseKey), true),
    };
  }

  table([
    ['operation', 'ops/s', 'µs/op'],
    ['Tessera mint (raw key)', fmt(mintOps), us(mintOps)],
    ['Tessera add first-party caveat (to 5)', fmt(addOps), us(addOps)],
    ['noble hmac(sha256, key32, msg32) x1', fmt(hmacOps), us(hmacOps)],
    ['noble hmac(sha256, key32, msg32) x6', fmt(hmac6Ops), us(hmac6Ops)],
  ]);
  console.log('\ndecode + verify, ops/s (µs/op)');
  const cell = (ops: number): string => `${fmt(ops)} (${us(ops)})`;
  table([
    ['caveats', 'Tessera raw', 'Tessera string', 'js-macaroon', 'jose HS256', 'raw/js', 'string/js', 'raw/jose'],
    ...COUNTS.map((n) => {
      const v = verify[n]!;
      return [String(n), cell(v.raw), cell(v.string), cell(v.js), cell(v.jose), `${fmt(v.raw / v.js, 1)}x`, `${fmt(v.string / v.js, 1)}x`, `${fmt(v.raw / v.jose, 1)}x`];
    }),
  ]);

  const v5 = verify[5]!;
  const timeVsHmac = hmac6Ops / v5.raw; // (1/raw) / (1/hmac6)
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  console.log('\ntargets, 5 caveats (Tessera raw key)');
  table([
    ['target', 'measured', 'wanted', 'result'],
    ['throughput vs js-macaroon import + verify', `${fmt(v5.raw / v5.js, 1)}x`, '>= 2x', verdict(v5.raw / v5.js >= 2)],
    ['throughput vs jose jwtVerify HS256', `${fmt(v5.raw / v5.jose, 1)}x`, '>= 2.5x', verdict(v5.raw / v5.jose >= 2.5)],
    ['time vs 6 bare noble HMAC calls', `${fmt(timeVsHmac, 2)}x`, '<= 1.3x', verdict(timeVsHmac <= 1.3)],
    ['(info) string key vs js-macaroon, both deriving', `${fmt(v5.string / v5.js, 1)}x`, '>= 2x', verdict(v5.string / v5.js >= 2)],
  ]);
  if (sink === 0.5) console.log(''); // keep `sink` observable
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
