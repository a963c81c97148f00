/** The Verifier's warm path: what a cached chain may and may not skip, and the approximate-LRU chain cache. */
import { describe, expect, it } from 'vitest';
import { caveat } from '../caveats/index.js';
import { Macaroon } from '../src/index.js';
import { Lru } from '../src/util/lru.js';
import { Verifier, type UsageCounter } from '../src/verifier/index.js';

const now = new Date('2026-06-01T12:00:00Z');
const ctx = { operation: 'read', resource: '/docs/a.md' };
const mint = (rootKey: string | Uint8Array | { raw: Uint8Array }, id = 'tok-1'): Macaroon =>
  Macaroon.mint({ rootKey, identifier: id }).addFirstPartyCaveat(caveat.ops(['read'])).addFirstPartyCaveat(caveat.resource('/docs/**'));

describe('Verifier with a cached chain', () => {
  it('still asks for the root key on every request, and a different string key fails the chain', async () => {
    let key = 'first key';
    let asked = 0;
    const v = new Verifier({ rootKeyFor: () => (asked++, key), clock: () => now });
    const token = mint('first key').encode();
    await v.verify(token, { context: ctx });
    await v.verify(token, { context: ctx });
    expect(asked).toBe(2);
    key = 'second key';
    await expect(v.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
  });

  it('notices a byte key changed in place (no identity shortcut for mutable keys)', async () => {
    const key = new Uint8Array(32).fill(1);
    const v = new Verifier({ rootKeyFor: () => key, clock: () => now });
    const token = mint(key.slice()).encode();
    await v.verify(token, { context: ctx });
    key.fill(2);
    await expect(v.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    key.fill(1);
    await expect(v.verify(token, { context: ctx })).resolves.toMatchObject({ identifierText: 'tok-1' });
  });

  it('hands out copies: mutating an identifier given to rootKeyFor, isRevoked or the caller changes nothing', async () => {
    const seen: Uint8Array[] = [];
    const v = new Verifier({
      rootKeyFor: (id) => (seen.push(id), id.fill(0), 'k'),
      revocations: { isRevoked: (id) => (seen.push(id), id.fill(0), false) },
      clock: () => now,
    });
    const token = mint('k').encode();
    const first = await v.verify(token, { context: ctx });
    (first.identifier as Uint8Array).fill(0);
    const second = await v.verify(token, { context: ctx });
    expect(new TextDecoder().decode(second.identifier)).toBe('tok-1');
    expect(second.identifierText).toBe('tok-1');
    expect(seen).toHaveLength(4);
  });

  it('supports synchronous, promised and thenable key stores and revocation lists', async () => {
    const thenable = <T>(v: T): PromiseLike<T> => ({ then: (ok) => Promise.resolve(ok?.(v)) as never });
    const token = mint('k').encode();
    for (const wrap of [<T>(v: T) => v, <T>(v: T) => Promise.resolve(v), thenable]) {
      const v = new Verifier({ rootKeyFor: () => wrap('k') as never, revocations: { isRevoked: () => wrap(false) as never }, clock: () => now });
      await expect(v.verify(token, { context: ctx })).resolves.toMatchObject({ identifierText: 'tok-1' });
      const revoked = new Verifier({ rootKeyFor: () => wrap('k') as never, revocations: { isRevoked: () => wrap(true) as never } });
      await expect(revoked.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_REVOKED' });
    }
  });

  it('keeps the order of failures on hits and misses: revocation before conflicting declared facts', async () => {
    const token = mint('k').addFirstPartyCaveat(caveat.declared('user', 'alice')).addFirstPartyCaveat(caveat.declared('user', 'bob')).encode();
    let revoked = true;
    const v = new Verifier({ rootKeyFor: () => 'k', revocations: { isRevoked: () => revoked }, clock: () => now });
    for (let i = 0; i < 2; i++) await expect(v.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_REVOKED' });
    revoked = false;
    for (let i = 0; i < 2; i++) await expect(v.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_CAVEAT_FAILED', details: { caveat: 'declared user bob' } });
  });

  it('counts uses only when a usage-limited caveat is present, on hits as on misses', async () => {
    const calls: string[] = [];
    const usage: UsageCounter = { consume: async (scope) => (calls.push(scope), true) };
    const v = new Verifier({ rootKeyFor: () => 'k', usage, clock: () => now });
    const plain = mint('k').encode();
    await v.verify(plain, { context: ctx });
    await v.verify(plain, { context: ctx });
    expect(calls).toEqual([]);
    const limited = mint('k').addFirstPartyCaveat(caveat.uses(5)).encode();
    const first = await v.verify(limited, { context: ctx });
    await v.verify(limited, { context: ctx });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe(calls[1]);
    expect(first.caveats).toEqual(['ops read', 'resource /docs/**', 'uses 5']);
  });

  it('applies configured limits when decoding and verifying, cached or not', async () => {
    const v = new Verifier({ rootKeyFor: () => 'k', limits: { maxCaveats: 2 }, clock: () => now });
    await expect(v.verify(mint('k').encode(), { context: ctx })).resolves.toBeDefined();
    await expect(v.verify(mint('k').addFirstPartyCaveat(caveat.method(['GET'])).encode(), { context: ctx })).rejects.toMatchObject({ code: 'ERR_LIMIT' });
  });

  it('keys the cache by every token presented: the same primary with another discharge is verified afresh', async () => {
    const caveatKey = new Uint8Array(32).fill(3);
    const primary = mint('k').addThirdPartyCaveat({ caveatKey, identifier: 'ticket', location: 'https://auth.example' });
    const good = primary.bindForRequest(Macaroon.mint({ rootKey: caveatKey, identifier: 'ticket' })).encode();
    const forged = primary.bindForRequest(Macaroon.mint({ rootKey: new Uint8Array(32), identifier: 'ticket' })).encode();
    const v = new Verifier({ rootKeyFor: () => 'k', clock: () => now });
    await v.verify(primary, { discharges: [good], context: ctx });
    await expect(v.verify(primary, { discharges: [forged], context: ctx })).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    await expect(v.verify(primary, { context: ctx })).rejects.toMatchObject({ code: 'ERR_DISCHARGE_MISSING' });
  });
});

describe('Lru', () => {
  const entry = (n: number): { key: Uint8Array } => ({ key: new Uint8Array([n]) });

  it('holds at most maxEntries and evicts the oldest first', () => {
    const cache = new Lru<{ key: Uint8Array }>(4);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, entry(i));
    expect(cache.size).toBe(4);
    expect(cache.get('k5')).toBeUndefined();
    expect(cache.get('k6')?.key).toEqual(new Uint8Array([6]));
    cache.set('k9', entry(99));
    expect(cache.size).toBe(4);
    expect(cache.get('k9')?.key).toEqual(new Uint8Array([99]));
  });

  it('never evicts an entry hit at least once per maxEntries / 4 insertions', () => {
    const cache = new Lru<{ key: Uint8Array }>(8);
    cache.set('hot', entry(0));
    for (let i = 0; i < 1000; i++) {
      cache.set(`cold${i}`, entry(1));
      if (i % 2 === 0) expect(cache.get('hot')).toBeDefined();
    }
    expect(cache.get('cold0')).toBeUndefined();
    expect(cache.size).toBe(8);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

describe('review fixes', () => {
  it('refuses a bad clock skew when constructed, not on every request', () => {
    expect(() => new Verifier({ rootKeyFor: () => 'k', clockSkewMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => new Verifier({ rootKeyFor: () => 'k', clockSkewMs: 300_001 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  it('does not cache the chain of an oversized token (the cache stays small), but still verifies it', async () => {
    const key = { raw: new Uint8Array(32).fill(5) };
    const v = new Verifier({ rootKeyFor: () => key });
    let big = Macaroon.mint({ rootKey: key, identifier: 'big' });
    for (let i = 0; i < 40; i++) big = big.addFirstPartyCaveat(`declared k${i} ${'x'.repeat(200)}`);
    const text = big.encode();
    expect(text.length).toBeGreaterThan(8 * 1024);
    await v.verify(text);
    await v.verify(text);
    expect(v.cachedChains).toBe(0);
    await v.verify(Macaroon.mint({ rootKey: key, identifier: 'small' }).encode());
    expect(v.cachedChains).toBe(1);
  });

  it('refuses string keys with lone surrogates, which would collide after encoding', () => {
    expect(() => Macaroon.mint({ rootKey: '\uD800', identifier: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});
