/**
 * The warm path for every root-key form: a cached chain presented with the same string or the
 * same bytes costs no key derivation (the HMAC a byte key used to pay on every hit), a changed
 * key still fails the chain, and the same key given in another form still verifies.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { caveat } from '../caveats/index.js';
import * as keys from '../src/crypto/keys.js';
import { Macaroon } from '../src/index.js';
import { Verifier } from '../src/verifier/index.js';

vi.mock('../src/crypto/keys.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/crypto/keys.js')>();
  return { ...original, deriveKey: vi.fn((key: keys.KeyInput, what?: string) => original.deriveKey(key, what)) };
});
const derivations = vi.mocked(keys.deriveKey);

const now = new Date('2026-06-01T12:00:00Z');
const ctx = { operation: 'read' };
const mint = (rootKey: keys.KeyInput): string => Macaroon.mint({ rootKey, identifier: 'tok-1' }).addFirstPartyCaveat(caveat.ops(['read'])).encode();
const text = 'a root key given as text';
const bytes = new TextEncoder().encode(text);

beforeEach(() => {
  derivations.mockClear();
});

describe('Verifier warm path by root-key form', () => {
  it.each([
    ['string', text],
    ['bytes', bytes],
  ] as const)('a %s key presented again is matched without deriving it', async (_, key) => {
    const token = mint(key);
    const v = new Verifier({ rootKeyFor: () => (typeof key === 'string' ? key : key.slice()), clock: () => now });
    await v.verify(token, { context: ctx });
    derivations.mockClear();
    for (let i = 0; i < 3; i++) await expect(v.verify(token, { context: ctx })).resolves.toMatchObject({ identifierText: 'tok-1' });
    expect(derivations).not.toHaveBeenCalled();
  });

  it('a different byte key (same length, or longer) fails the chain on a hit', async () => {
    let key: Uint8Array = bytes.slice();
    const v = new Verifier({ rootKeyFor: () => key, clock: () => now });
    const token = mint(bytes);
    await v.verify(token, { context: ctx });
    key = bytes.slice();
    key[0] = (key[0] as number) ^ 1;
    await expect(v.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    key = new Uint8Array([...bytes, 0]);
    await expect(v.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
  });

  it('the same key in another form (string, bytes, derived raw) still hits and verifies', async () => {
    const forms: keys.KeyInput[] = [text, bytes, { raw: keys.deriveKey(text) }];
    let form = 0;
    const v = new Verifier({ rootKeyFor: () => forms[form], clock: () => now });
    const token = mint(text);
    for (form = 0; form < forms.length; form++) await expect(v.verify(token, { context: ctx })).resolves.toMatchObject({ identifierText: 'tok-1' });
    expect(v.cachedChains).toBe(1);
  });
});
