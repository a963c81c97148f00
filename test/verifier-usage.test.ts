/**
 * `uses n` out of the box: the Verifier's default in-process counter (MemoryUsageCounter): its
 * limit, its expiry with the token's `time-before`, its bound under floods of distinct tokens,
 * and the explicit way to refuse usage-limited tokens.
 */
import { describe, expect, it } from 'vitest';
import { Macaroon } from '../src/index.js';
import { MemoryUsageCounter, Verifier, type UsageCounter } from '../src/verifier/index.js';
import { caveat } from '../caveats/index.js';
import { expectCode } from './support/expect-code.js';

const T0 = Date.parse('2026-06-01T12:00:00Z');

/** A clock the test moves by hand. */
function manualClock(start = T0): { now: () => Date; advance(ms: number): void } {
  let t = start;
  return { now: () => new Date(t), advance: (ms) => void (t += ms) };
}

describe('MemoryUsageCounter', () => {
  it('allows `limit` uses per scope, each scope on its own', async () => {
    const counter = new MemoryUsageCounter();
    expect([await counter.consume('a', 2), await counter.consume('a', 2), await counter.consume('a', 2)]).toEqual([true, true, false]);
    expect(await counter.consume('b', 1)).toBe(true);
    expect(await counter.consume('b', 1)).toBe(false);
    expect(await counter.consume('c', 0)).toBe(false);
    expect(counter.size).toBe(2);
  });

  it('forgets a count when its token expires (until), else after maxAgeMs', async () => {
    const clock = manualClock();
    const counter = new MemoryUsageCounter({ clock: clock.now, maxAgeMs: 60_000 });
    const until = new Date(T0 + 10_000);
    expect(await counter.consume('timed', 1, until)).toBe(true);
    expect(await counter.consume('untimed', 1)).toBe(true);
    clock.advance(9_999);
    expect(await counter.consume('timed', 1, until)).toBe(false); // still counted just before
    clock.advance(1);
    expect(await counter.consume('other', 1)).toBe(true); // any use drops what expired
    expect(counter.size).toBe(2);
    expect(await counter.consume('untimed', 1)).toBe(false);
    clock.advance(50_000);
    expect(await counter.consume('untimed', 1)).toBe(true);
    // An `until` already past (an odd clock) is kept the longest, not dropped at once.
    expect(await counter.consume('past', 1, new Date(T0))).toBe(true);
    clock.advance(59_999);
    expect(await counter.consume('past', 1, new Date(T0))).toBe(false);
  });

  it('stays within maxEntries over 100 times as many distinct scopes', async () => {
    const clock = manualClock();
    const counter = new MemoryUsageCounter({ clock: clock.now, maxEntries: 1000 });
    let largest = 0;
    let allowed = 0;
    for (let i = 0; i < 100_000; i++) {
      clock.advance(1);
      // Each token lives 1 s of this clock: about 1000 are live at any moment.
      if (await counter.consume(`s${i}`, 1, new Date(T0 + i + 1000))) allowed++;
      if (counter.size > largest) largest = counter.size;
    }
    expect(allowed).toBe(100_000);
    expect(largest).toBeLessThanOrEqual(1000);
    expect(largest).toBeGreaterThan(900);
  }, 60_000);

  it('when full of live counts, refuses new scopes rather than forgetting a count', async () => {
    const counter = new MemoryUsageCounter({ maxEntries: 3 });
    for (const s of ['a', 'b', 'c']) expect(await counter.consume(s, 1)).toBe(true);
    const e = await expectCode(counter.consume('d', 1), 'ERR_RATE_LIMITED');
    expect(e.message).toMatch(/in this process/);
    expect(await counter.consume('a', 1)).toBe(false); // used up and still remembered
    expect(counter.size).toBe(3);
  });

  it('refuses bad options and arguments', async () => {
    await expectCode(() => new MemoryUsageCounter({ maxEntries: 0 }), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => new MemoryUsageCounter({ maxAgeMs: 1.5 }), 'ERR_INVALID_ARGUMENT');
    await expectCode(new MemoryUsageCounter().consume('a', Number.NaN), 'ERR_INVALID_ARGUMENT');
  });
});

describe('Verifier usage counting', () => {
  const rootKey = { raw: new Uint8Array(32).fill(5) };
  const mint = (id: string): Macaroon => Macaroon.mint({ rootKey, identifier: id, location: 'https://svc.example' });
  const verifier = (extra: Partial<ConstructorParameters<typeof Verifier>[0]> = {}): Verifier => new Verifier({ rootKeyFor: () => rootKey, ...extra });

  it('counts `uses n` in this process by default (each process its own count)', async () => {
    const twice = mint('tok-a').addFirstPartyCaveat(caveat.uses(2)).encode();
    const v = verifier();
    await v.verify(twice);
    await v.verify(twice);
    const e = await expectCode(v.verify(twice), 'ERR_USAGE_EXCEEDED');
    expect(e.details).toMatchObject({ caveat: 'uses 2' });
    // Another process (another Verifier) has its own count: use a shared counter for many.
    await verifier().verify(twice);
  });

  it('refuses usage-limited tokens with usage: false, and bad usage options', async () => {
    const once = mint('tok-b').addFirstPartyCaveat(caveat.uses(1));
    const e = await expectCode(verifier({ usage: false }).verify(once), 'ERR_CAVEAT_FAILED');
    expect(e.details).toMatchObject({ caveat: 'uses 1' });
    await verifier({ usage: false }).verify(mint('tok-c')); // tokens without `uses` still pass
    await expectCode(() => verifier({ usage: {} as UsageCounter }), 'ERR_INVALID_ARGUMENT');
  });

  it('tells the counter the earliest time-before up to the caveat, plus the clock skew', async () => {
    const seen: (Date | undefined)[] = [];
    const usage: UsageCounter = { consume: async (_scope, _limit, until) => (seen.push(until), true) };
    const clock = manualClock();
    const v = verifier({ usage, clock: clock.now, clockSkewMs: 2000 });
    const base = mint('tok-d');
    await v.verify(base.addFirstPartyCaveat(caveat.uses(1)));
    await v.verify(
      base
        .addFirstPartyCaveat(caveat.timeBefore(new Date(T0 + 60_000)))
        .addFirstPartyCaveat(caveat.timeBefore(new Date(T0 + 30_000)))
        .addFirstPartyCaveat(caveat.uses(1))
        .addFirstPartyCaveat(caveat.timeBefore(new Date(T0 + 10_000))), // after the caveat: another holder may lack it
    );
    expect(seen).toEqual([undefined, new Date(T0 + 32_000)]);
  });

  it('the default counter forgets a use when the token expires, and a flood cannot reset a used token', async () => {
    const clock = manualClock();
    const counter = new MemoryUsageCounter({ clock: clock.now, maxEntries: 5 });
    const v = verifier({ usage: counter, clock: clock.now });
    const held = mint('tok-e').addFirstPartyCaveat(caveat.timeBefore(new Date(T0 + 60_000)));
    const once = held.addFirstPartyCaveat(caveat.uses(1));
    await v.verify(once);
    // The holder floods with distinct attenuations, each with its own count.
    for (let i = 0; i < 4; i++) await v.verify(held.addFirstPartyCaveat(caveat.tool([`t${i}`])).addFirstPartyCaveat(caveat.uses(1)), { context: { tool: `t${i}` } });
    await expectCode(v.verify(held.addFirstPartyCaveat(caveat.tool(['t9'])).addFirstPartyCaveat(caveat.uses(1)), { context: { tool: 't9' } }), 'ERR_RATE_LIMITED');
    await expectCode(v.verify(once), 'ERR_USAGE_EXCEEDED');
    expect(counter.size).toBe(5);
    clock.advance(60_000);
    await expectCode(v.verify(once), 'ERR_CAVEAT_FAILED'); // expired: no use can pass any more
    await v.verify(mint('tok-f').addFirstPartyCaveat(caveat.uses(1)));
    expect(counter.size).toBe(1); // the expired counts were dropped
  });
});
