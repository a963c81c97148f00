/**
 * Example: mint a token, attenuate it offline, verify it, revoke it, and watch the refusal.
 *
 *   npx tsx examples/revocation.ts
 *
 * Self-contained: the whole Tessera system runs in this process on an in-memory embedded
 * database (or your PostgreSQL when DATABASE_URL is set), and requests go to its HTTP API
 * through `app.request(...)` (the same routes and answers as over a port, without one). The admin token protecting the API is the one a first
 * `tessera serve` would print.
 *
 * What it shows: revoking a token's identifier kills the token *and every attenuation of it*
 * (they share the identifier), and the refusal is immediate: the revoke call answers only once
 * the revocation is committed and the verifiers' in-memory revoked set has it.
 */
import { caveat } from '../caveats/index.js';
import { Macaroon } from '../src/index.js';
import { createSystem } from '../src/server/system.js';
import { MasterKey, openDatabase } from '../src/storage/index.js';

const database = await openDatabase({ url: process.env.DATABASE_URL, memory: true });
const system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: 'http://127.0.0.1:8470', log: () => undefined });
const admin = (await system.mintAdminToken()).token;

/** A JSON answer, read loosely (this is an example, not a client library). */
type Json = Record<string, any>;

/** Call the API as `tessera` (or any service, in any language) would over HTTP. */
async function api(path: string, body: unknown): Promise<Json> {
  const res = await system.app.request(path, {
    method: 'POST',
    headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Json;
}

const verdict = (v: Json): string =>
  v.allowed === true ? 'allowed' : `refused: ${v.error.code} (${v.error.details?.caveat ?? v.error.message})`;

let failures = 0;
const expectThat = (ok: boolean, what: string): void => {
  if (!ok) {
    failures++;
    console.log(`   !! unexpected: ${what}`);
  }
};

// 1. Mint: read and write on reports, for one hour.
const minted = await api('/v1/tokens', { caveats: ['ops read,write', 'resource /reports/*'], label: 'reports (example)', ttl: 3600 });
console.log(`1. minted ${minted.identifier}`);
console.log(`   caveats: ${(minted.caveats as string[]).join(' | ')}`);

// 2. Attenuate offline: no server, no key. The holder hands on a read-only copy.
const readOnly = Macaroon.decode(minted.token as string).addFirstPartyCaveat(caveat.ops(['read'])).encode();
console.log('2. attenuated offline with "ops read" (same identifier, narrower token)');

// 3. Verify (POST /v1/verify: what a service in any language calls).
const read = await api('/v1/verify', { token: readOnly, context: { operation: 'read', resource: '/reports/q3' } });
const write = await api('/v1/verify', { token: readOnly, context: { operation: 'write', resource: '/reports/q3' } });
const originalWrite = await api('/v1/verify', { token: minted.token, context: { operation: 'write', resource: '/reports/q3' } });
console.log(`3. read-only copy, read  /reports/q3: ${verdict(read)}`);
console.log(`   read-only copy, write /reports/q3: ${verdict(write)}`);
console.log(`   original,       write /reports/q3: ${verdict(originalWrite)}`);
expectThat(read.allowed === true && write.allowed === false && originalWrite.allowed === true, 'verification before revoking');

// 4. Revoke the original by its identifier; durable before the answer comes back.
const revoked = await api('/v1/tokens/revoke', { identifier: minted.identifier, reason: 'example' });
console.log(`4. revoked ${revoked.identifier} at ${revoked.revokedAt}`);

// 5. The refusal: the original and every attenuation of it, at once.
const after = await api('/v1/verify', { token: readOnly, context: { operation: 'read', resource: '/reports/q3' } });
const originalAfter = await api('/v1/verify', { token: minted.token, context: { operation: 'read', resource: '/reports/q3' } });
console.log(`5. read-only copy, read  /reports/q3: ${verdict(after)}`);
console.log(`   original,       read  /reports/q3: ${verdict(originalAfter)}`);
expectThat(after.error?.code === 'ERR_REVOKED' && originalAfter.error?.code === 'ERR_REVOKED', 'refusal after revoking');

// An application verifying in-process (no HTTP) sees the same.
const local = await system.verifier.verify(readOnly, { context: { operation: 'read', resource: '/reports/q3' } }).then(
  () => 'allowed',
  (e: { code?: string }) => `refused: ${e.code ?? 'error'}`,
);
console.log(`   in-process verifier:               ${local}`);
expectThat(local === 'refused: ERR_REVOKED', 'in-process refusal');

await system.close();
await database.close();
console.log(failures === 0 ? 'done: the revoked token and its attenuation are refused everywhere.' : `done with ${failures} unexpected result(s).`);
process.exitCode = failures === 0 ? 0 : 1;
