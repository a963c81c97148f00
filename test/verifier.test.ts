/** The Verifier: chain first, then every caveat of the token and its discharges, failing closed. */
import { describe, expect, it } from 'vitest';
import { Macaroon } from '../src/index.js';
import { Verifier, type UsageCounter } from '../src/verifier/index.js';
import { caveat } from '../caveats/index.js';

const rootKey = { raw: new Uint8Array(32).fill(7) };
const now = new Date('2026-06-01T12:00:00Z');
const base = Macaroon.mint({ rootKey, identifier: 'tok-1', location: 'https://svc.example' });
const token = base
  .addFirstPartyCaveat(caveat.timeBefore(new Date('2026-06-01T13:00:00Z')))
  .addFirstPartyCaveat(caveat.ops(['read']))
  .addFirstPartyCaveat(caveat.resource('/docs/**'));
const ctx = { operation: 'read', resource: '/docs/a.md' };

const verifier = (extra: Partial<ConstructorParameters<typeof Verifier>[0]> = {}): Verifier =>
  new Verifier({ rootKeyFor: (id) => (new TextDecoder().decode(id).startsWith('tok-') ? rootKey : undefined), clock: () => now, ...extra });

describe('Verifier', () => {
  it('accepts a request every caveat allows, from a Macaroon or its encodings', async () => {
    for (const t of [token, token.encode(), token.encode('v1'), token.encode('json')]) {
      const ok = await verifier().verify(t, { context: ctx });
      expect(ok.identifierText).toBe('tok-1');
      expect(ok.caveats).toHaveLength(3);
    }
  });

  it('names the failing caveat and why, without echoing the token', async () => {
    const err = await verifier().verify(token.encode(), { context: { ...ctx, operation: 'write' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CAVEAT_FAILED', details: { caveat: 'ops read' } });
    expect(String((err as Error).message)).not.toContain(token.encode());
  });

  it('fails closed on unknown caveats and missing context', async () => {
    await expect(verifier().verify(token.addFirstPartyCaveat('frobnicate yes'), { context: ctx })).rejects.toMatchObject({ code: 'ERR_CAVEAT_UNKNOWN' });
    await expect(verifier().verify(token, { context: { operation: 'read' } })).rejects.toMatchObject({ code: 'ERR_CAVEAT_FAILED' });
  });

  it('refuses expired tokens by the verifier clock', async () => {
    const later = verifier({ clock: () => new Date('2026-06-01T13:00:01Z') });
    await expect(later.verify(token, { context: ctx })).rejects.toMatchObject({ code: 'ERR_CAVEAT_FAILED', details: { caveat: expect.stringMatching(/^time-before /) } });
  });

  it('distinguishes unknown keys and bad signatures', async () => {
    const other = Macaroon.mint({ rootKey, identifier: 'zzz' });
    await expect(verifier().verify(other)).rejects.toMatchObject({ code: 'ERR_KEY_UNKNOWN' });
    const forged = Macaroon.mint({ rootKey: { raw: new Uint8Array(32) }, identifier: 'tok-1' });
    await expect(verifier().verify(forged)).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
  });

  it('honours revocation even when the chain is cached', async () => {
    const revoked = new Set<string>();
    const v = verifier({ revocations: { isRevoked: (id) => revoked.has(new TextDecoder().decode(id)) } });
    const encoded = token.encode();
    await v.verify(encoded, { context: ctx });
    revoked.add('tok-1');
    await expect(v.verify(encoded, { context: ctx })).rejects.toMatchObject({ code: 'ERR_REVOKED' });
  });

  it('evaluates caveats on a cache hit', async () => {
    const v = verifier();
    const encoded = token.encode();
    await v.verify(encoded, { context: ctx });
    await expect(v.verify(encoded, { context: { ...ctx, resource: '/etc/passwd' } })).rejects.toMatchObject({ code: 'ERR_CAVEAT_FAILED' });
  });

  it('does not let a cached chain vouch for another key', async () => {
    let key: typeof rootKey = rootKey;
    const v = new Verifier({ rootKeyFor: () => key, clock: () => now });
    const encoded = token.encode();
    await v.verify(encoded, { context: ctx });
    key = { raw: new Uint8Array(32).fill(9) };
    await expect(v.verify(encoded, { context: ctx })).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
  });

  it('counts uses n once per use, and attenuating further does not reset the count', async () => {
    const counts = new Map<string, number>();
    const usage: UsageCounter = {
      consume: async (scope, limit) => {
        const used = counts.get(scope) ?? 0;
        if (used >= limit) return false;
        counts.set(scope, used + 1);
        return true;
      },
    };
    const once = token.addFirstPartyCaveat(caveat.uses(1));
    const v = verifier({ usage });
    await v.verify(once, { context: ctx });
    await expect(v.verify(once, { context: ctx })).rejects.toMatchObject({ code: 'ERR_USAGE_EXCEEDED' });
    await expect(v.verify(once.addFirstPartyCaveat(caveat.method(['GET'])), { context: { ...ctx, method: 'GET' } })).rejects.toMatchObject({ code: 'ERR_USAGE_EXCEEDED' });
    await expect(verifier({ usage: false }).verify(once, { context: ctx })).rejects.toMatchObject({ code: 'ERR_CAVEAT_FAILED', details: { caveat: 'uses 1' } });
  });

  it('evaluates discharge caveats and collects declared facts', async () => {
    const caveatKey = new Uint8Array(32).fill(3);
    const withThird = token.addThirdPartyCaveat({ caveatKey, identifier: 'ticket', location: 'https://auth.example' });
    const discharge = Macaroon.mint({ rootKey: caveatKey, identifier: 'ticket' })
      .addFirstPartyCaveat(caveat.declared('user', 'alice'))
      .addFirstPartyCaveat(caveat.timeBefore(new Date('2026-06-01T12:05:00Z')));
    const bound = withThird.bindForRequest(discharge);
    const ok = await verifier().verify(withThird, { discharges: [bound.encode()], context: ctx });
    expect(ok.declared.get('user')).toBe('alice');
    await expect(verifier().verify(withThird, { context: ctx })).rejects.toMatchObject({ code: 'ERR_DISCHARGE_MISSING' });
    const late = verifier({ clock: () => new Date('2026-06-01T12:06:00Z') });
    await expect(late.verify(withThird, { discharges: [bound], context: ctx })).rejects.toMatchObject({ code: 'ERR_CAVEAT_FAILED' });
  });

  it('explains every caveat with pass or fail', async () => {
    const report = await verifier().explain(token, { context: { ...ctx, operation: 'write', resource: '/src/x' } });
    expect(report.ok).toBe(false);
    expect(report.caveats.map((c) => [c.condition.split(' ')[0], c.ok])).toEqual([
      ['time-before', true],
      ['ops', false],
      ['resource', false],
    ]);
    const bad = await verifier().explain('not a token');
    expect(bad).toMatchObject({ ok: false, error: { code: 'ERR_MALFORMED' } });
  });
});
