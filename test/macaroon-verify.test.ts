/**
 * Behavioural tests of verifySignature: go-macaroon's TestVerify table (macaroon_test.go,
 * `verifyTests`) mirrored case by case, plus binding, tampering and the configurable limits.
 *
 * verifySignature checks the chains and the discharge graph and returns the first-party
 * conditions; go-macaroon's `check` callback is played here by evaluating those conditions
 * against the table's condition map afterwards.
 */
import { describe, expect, it } from 'vitest';
import { Macaroon, verifySignature, type ErrorCode, type MacaroonJSON, type VerifiedMacaroon } from '../src/index.js';
import { deriveKey } from '../src/crypto/keys.js';
import { conditionAnchor } from '../src/macaroon/verify.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { expectTesseraError, fromB64, b64url, outcome } from './support/macaroon-test-utils.js';

interface CaveatSpec {
  readonly condition: string;
  /** Set for third-party caveats. */
  readonly location?: string;
  readonly rootKey?: string;
}
interface MacaroonSpec {
  readonly rootKey: string;
  readonly id: string;
  readonly location?: string;
  readonly caveats?: readonly CaveatSpec[];
}

/** As go-macaroon's makeMacaroons: the first is the primary, the rest its discharges, all bound to it. */
function makeMacaroons(specs: readonly MacaroonSpec[]): { rootKey: string; primary: Macaroon; discharges: Macaroon[] } {
  const all = specs.map((spec) =>
    (spec.caveats ?? []).reduce(
      (m, c) =>
        c.location !== undefined
          ? m.addThirdPartyCaveat({ caveatKey: c.rootKey ?? '', identifier: c.condition, location: c.location })
          : m.addFirstPartyCaveat(c.condition),
      Macaroon.mint({ rootKey: spec.rootKey, identifier: spec.id, ...(spec.location !== undefined ? { location: spec.location } : {}) }),
    ),
  );
  const [primary, ...rest] = all as [Macaroon, ...Macaroon[]];
  return { rootKey: specs[0]!.rootKey, primary, discharges: rest.map((d) => primary.bindForRequest(d)) };
}

/** Signature verification, then go-macaroon's check: every condition must be in the map as true. */
function authorize(primary: Macaroon, rootKey: string, discharges: readonly Macaroon[], conditions: Readonly<Record<string, boolean>>): string {
  let verified: readonly VerifiedMacaroon[];
  try {
    verified = verifySignature(primary, rootKey, discharges);
  } catch (e) {
    return outcome(() => {
      throw e;
    });
  }
  for (const m of verified) {
    for (const c of m.conditions) if (conditions[c] !== true) return `condition "${c}" not met`;
  }
  return 'ok';
}

const bob = { condition: 'bob-is-great', location: 'bob', rootKey: 'bob-caveat-root-key' } as const;
const charlie = { condition: 'charlie-is-great', location: 'charlie', rootKey: 'charlie-caveat-root-key' } as const;
const barbara = { condition: 'barbara-is-great', location: 'barbara', rootKey: 'barbara-caveat-root-key' } as const;
const primarySpec = (...caveats: CaveatSpec[]): MacaroonSpec => ({ rootKey: 'root-key', id: 'root-id', caveats });

const multilevel: MacaroonSpec[] = [
  primarySpec({ condition: 'wonderful' }, bob, charlie),
  { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great', caveats: [{ condition: 'splendid' }, barbara] },
  {
    location: 'charlie',
    rootKey: 'charlie-caveat-root-key',
    id: 'charlie-is-great',
    caveats: [{ condition: 'splendid' }, { condition: 'celine-is-great', location: 'celine', rootKey: 'celine-caveat-root-key' }],
  },
  {
    location: 'barbara',
    rootKey: 'barbara-caveat-root-key',
    id: 'barbara-is-great',
    caveats: [{ condition: 'spiffing' }, { condition: 'ben-is-great', location: 'ben', rootKey: 'ben-caveat-root-key' }],
  },
  { location: 'ben', rootKey: 'ben-caveat-root-key', id: 'ben-is-great' },
  { location: 'celine', rootKey: 'celine-caveat-root-key', id: 'celine-is-great', caveats: [{ condition: 'high-fiving' }] },
];

/** go-macaroon's verifyTests; `expect` is 'ok', a Tessera error code, or the unmet condition. */
const verifyTests: { about: string; macaroons: MacaroonSpec[]; conditions: { conditions: Record<string, boolean>; expect: ErrorCode | 'ok' | string }[] }[] = [
  {
    about: 'single third party caveat without discharge',
    macaroons: [primarySpec({ condition: 'wonderful' }, bob)],
    conditions: [{ conditions: { wonderful: true }, expect: 'ERR_DISCHARGE_MISSING' }],
  },
  {
    about: 'single third party caveat with discharge',
    macaroons: [primarySpec({ condition: 'wonderful' }, bob), { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great' }],
    conditions: [
      { conditions: { wonderful: true }, expect: 'ok' },
      { conditions: { wonderful: false }, expect: 'condition "wonderful" not met' },
    ],
  },
  {
    about: 'single third party caveat with discharge with mismatching root key',
    macaroons: [primarySpec({ condition: 'wonderful' }, bob), { location: 'bob', rootKey: 'bob-caveat-root-key-wrong', id: 'bob-is-great' }],
    conditions: [{ conditions: { wonderful: true }, expect: 'ERR_SIGNATURE' }],
  },
  {
    // go-macaroon uses the first and reports the second "not used" (or a condition of the first
    // when it is checked first). Tessera refuses two discharges for one id before anything else.
    about: 'single third party caveat with two discharges',
    macaroons: [
      primarySpec({ condition: 'wonderful' }, bob),
      { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great', caveats: [{ condition: 'splendid' }] },
      { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great', caveats: [{ condition: 'top of the world' }] },
    ],
    conditions: [
      { conditions: { wonderful: true }, expect: 'ERR_DISCHARGE_UNUSED' },
      { conditions: { wonderful: true, splendid: true, 'top of the world': true }, expect: 'ERR_DISCHARGE_UNUSED' },
      { conditions: { wonderful: true, splendid: false, 'top of the world': true }, expect: 'ERR_DISCHARGE_UNUSED' },
      { conditions: { wonderful: true, splendid: true, 'top of the world': false }, expect: 'ERR_DISCHARGE_UNUSED' },
    ],
  },
  {
    about: 'one discharge used for two macaroons',
    macaroons: [
      primarySpec({ condition: 'somewhere else', location: 'bob', rootKey: 'bob-caveat-root-key' }, { ...bob, location: 'charlie' }),
      { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'somewhere else', caveats: [{ ...bob, location: 'charlie' }] },
      { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great' },
    ],
    conditions: [{ conditions: {}, expect: 'ERR_DISCHARGE_CYCLE' }],
  },
  {
    about: 'recursive third party caveat',
    macaroons: [primarySpec(bob), { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great', caveats: [{ ...bob, location: 'charlie' }] }],
    conditions: [{ conditions: {}, expect: 'ERR_DISCHARGE_CYCLE' }],
  },
  {
    about: 'two third party caveats',
    macaroons: [
      primarySpec({ condition: 'wonderful' }, bob, charlie),
      { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great', caveats: [{ condition: 'splendid' }] },
      { location: 'charlie', rootKey: 'charlie-caveat-root-key', id: 'charlie-is-great', caveats: [{ condition: 'top of the world' }] },
    ],
    conditions: [
      { conditions: { wonderful: true, splendid: true, 'top of the world': true }, expect: 'ok' },
      { conditions: { wonderful: true, splendid: false, 'top of the world': true }, expect: 'condition "splendid" not met' },
      { conditions: { wonderful: true, splendid: true, 'top of the world': false }, expect: 'condition "top of the world" not met' },
    ],
  },
  {
    about: 'third party caveat with undischarged third party caveat',
    macaroons: [
      primarySpec({ condition: 'wonderful' }, bob),
      { location: 'bob', rootKey: 'bob-caveat-root-key', id: 'bob-is-great', caveats: [{ condition: 'splendid' }, barbara] },
    ],
    conditions: [{ conditions: { wonderful: true, splendid: true }, expect: 'ERR_DISCHARGE_MISSING' }],
  },
  {
    about: 'multilevel third party caveats',
    macaroons: multilevel,
    conditions: [
      { conditions: { wonderful: true, splendid: true, 'high-fiving': true, spiffing: true }, expect: 'ok' },
      { conditions: { wonderful: true, splendid: true, 'high-fiving': false, spiffing: true }, expect: 'condition "high-fiving" not met' },
    ],
  },
  {
    about: 'unused discharge',
    macaroons: [{ rootKey: 'root-key', id: 'root-id' }, { rootKey: 'other-key', id: 'unused' }],
    conditions: [{ conditions: {}, expect: 'ERR_DISCHARGE_UNUSED' }],
  },
];

describe("go-macaroon's verifyTests", () => {
  for (const test of verifyTests) {
    describe(test.about, () => {
      const { rootKey, primary, discharges } = makeMacaroons(test.macaroons);
      for (const cond of test.conditions) {
        it(`${JSON.stringify(cond.conditions)} -> ${cond.expect}`, () => {
          expect(authorize(primary, rootKey, discharges, cond.conditions)).toBe(cond.expect);
          // The same through an encode/decode round trip of every macaroon.
          const reparse = (m: Macaroon) => Macaroon.decode(m.encode());
          expect(authorize(reparse(primary), rootKey, discharges.map(reparse), cond.conditions)).toBe(cond.expect);
        });
      }
    });
  }
});

describe('what verifySignature returns', () => {
  it('the primary first, then each discharge once, with depth and conditions in order', () => {
    const { rootKey, primary, discharges } = makeMacaroons(multilevel);
    const verified = verifySignature(primary, rootKey, [...discharges].reverse());
    expect(verified.map((v) => [Buffer.from(v.identifier).toString(), v.depth, v.discharge, v.conditions])).toEqual([
      ['root-id', 0, false, ['wonderful']],
      ['bob-is-great', 1, true, ['splendid']],
      ['barbara-is-great', 2, true, ['spiffing']],
      ['ben-is-great', 3, true, []],
      ['charlie-is-great', 1, true, ['splendid']],
      ['celine-is-great', 2, true, ['high-fiving']],
    ]);
    expect(Object.isFrozen(verified)).toBe(true);
  });

  it('anchors: the hash of each condition\'s chain signature, never the signature itself', () => {
    const m = Macaroon.mint({ rootKey: 'k', identifier: 'id' }).addFirstPartyCaveat('a').addFirstPartyCaveat('b');
    const [v] = verifySignature(m, 'k');
    expect(conditionAnchor(v!, 1)).toEqual(sha256(m.signature));
    expect(conditionAnchor(v!, 0)).toEqual(sha256(Macaroon.mint({ rootKey: 'k', identifier: 'id' }).addFirstPartyCaveat('a').signature));
    expect(() => conditionAnchor(v!, 2)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    // What verifySignature hands out holds no chain signature (each would be a credential).
    const shown = JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
    expect(shown).not.toContain(Buffer.from(m.signature).toString('hex'));
    expect(Object.keys(v!)).toEqual(['identifier', 'conditions', 'discharge', 'depth']);
  });

  it('a binary first-party condition fails closed (ERR_MALFORMED), but only once the chain is intact', () => {
    const m = Macaroon.mint({ rootKey: 'k', identifier: 'id' }).addFirstPartyCaveat('ok').addFirstPartyCaveat(new Uint8Array([0xff, 0xfe]));
    expectTesseraError(() => verifySignature(m, 'k'), 'ERR_MALFORMED');
    expectTesseraError(() => verifySignature(m, 'other key'), 'ERR_SIGNATURE');
    const tampered = Macaroon.decode({ ...m.toJSONObject(), s64: b64url(new Uint8Array(32)) });
    expectTesseraError(() => verifySignature(tampered, 'k'), 'ERR_SIGNATURE');
  });

  it('a raw key equal to the derived key verifies the same token; a raw key must be 32 bytes', () => {
    const m = Macaroon.mint({ rootKey: 'secret', identifier: 'id' }).addFirstPartyCaveat('a');
    expect(verifySignature(m, { raw: deriveKey('secret') })).toHaveLength(1);
    expect(verifySignature(m, new TextEncoder().encode('secret'))).toHaveLength(1);
    expectTesseraError(() => verifySignature(m, { raw: new Uint8Array(31) }), 'ERR_INVALID_ARGUMENT');
    expectTesseraError(() => verifySignature(m, { raw: deriveKey('other') }), 'ERR_SIGNATURE');
  });
});

describe('signatures', () => {
  const tp = { caveatKey: 'caveat-key', identifier: 'tp-id', location: 'https://tp.example' } as const;
  const primary = Macaroon.mint({ rootKey: 'root', identifier: 'primary' }).addFirstPartyCaveat('a = 1').addThirdPartyCaveat(tp);
  const discharge = Macaroon.mint({ rootKey: 'caveat-key', identifier: 'tp-id' }).addFirstPartyCaveat('d = 1');
  const bound = primary.bindForRequest(discharge);

  it('the well-formed set verifies', () => {
    expect(verifySignature(primary, 'root', [bound]).map((v) => v.conditions)).toEqual([['a = 1'], ['d = 1']]);
  });

  it('a wrong root key is ERR_SIGNATURE, checked before any discharge question', () => {
    expectTesseraError(() => verifySignature(primary, 'wrong', [bound]), 'ERR_SIGNATURE', ['wrong', 'root']);
    expectTesseraError(() => verifySignature(primary, 'wrong', []), 'ERR_SIGNATURE');
    expectTesseraError(() => verifySignature(primary, 'wrong', [bound, bound]), 'ERR_DISCHARGE_UNUSED');
  });

  it('a discharge minted from the wrong caveat key is ERR_SIGNATURE', () => {
    const wrong = Macaroon.mint({ rootKey: 'not-the-caveat-key', identifier: 'tp-id' }).addFirstPartyCaveat('d = 1');
    expectTesseraError(() => verifySignature(primary, 'root', [primary.bindForRequest(wrong)]), 'ERR_SIGNATURE', ['caveat-key']);
  });

  it('an unbound, twice-bound or otherwise-bound discharge is ERR_SIGNATURE', () => {
    expectTesseraError(() => verifySignature(primary, 'root', [discharge]), 'ERR_SIGNATURE');
    expectTesseraError(() => verifySignature(primary, 'root', [primary.bindForRequest(bound)]), 'ERR_SIGNATURE');
    const other = Macaroon.mint({ rootKey: 'root', identifier: 'primary' }).addFirstPartyCaveat('a = 2').addThirdPartyCaveat(tp);
    expectTesseraError(() => verifySignature(primary, 'root', [other.bindForRequest(discharge)]), 'ERR_SIGNATURE');
    // A discharge bound to an attenuated primary does not serve the original, and vice versa.
    const attenuated = primary.addFirstPartyCaveat('b = 2');
    expectTesseraError(() => verifySignature(attenuated, 'root', [bound]), 'ERR_SIGNATURE');
    expect(verifySignature(attenuated, 'root', [attenuated.bindForRequest(discharge)])).toHaveLength(2);
  });

  it('in multi-level discharges every discharge is bound to the primary, not to its parent', () => {
    const [p, ...raw] = multilevel.map((spec) =>
      (spec.caveats ?? []).reduce(
        (m, c) =>
          c.location !== undefined
            ? m.addThirdPartyCaveat({ caveatKey: c.rootKey ?? '', identifier: c.condition, location: c.location })
            : m.addFirstPartyCaveat(c.condition),
        Macaroon.mint({ rootKey: spec.rootKey, identifier: spec.id }),
      ),
    ) as [Macaroon, Macaroon, Macaroon, Macaroon, Macaroon, Macaroon];
    const allBound = raw.map((d) => p.bindForRequest(d));
    expect(verifySignature(p, 'root-key', allBound)).toHaveLength(6);
    // Barbara's discharge answers a caveat in Bob's; binding it to Bob's signature is wrong.
    const wrongParent = [...allBound];
    wrongParent[2] = allBound[0]!.bindForRequest(raw[2]);
    expectTesseraError(() => verifySignature(p, 'root-key', wrongParent), 'ERR_SIGNATURE');
    wrongParent[2] = raw[0].bindForRequest(raw[2]);
    expectTesseraError(() => verifySignature(p, 'root-key', wrongParent), 'ERR_SIGNATURE');
    expectTesseraError(() => verifySignature(p, 'root-key', [...allBound.slice(0, 4), raw[4]]), 'ERR_SIGNATURE');
  });

  it('any change to a caveat, vid or identifier, or a dropped or added caveat, is ERR_SIGNATURE', () => {
    const json = primary.toJSONObject();
    const c = json.c!;
    const tamper = (f: (j: { -readonly [K in keyof MacaroonJSON]: MacaroonJSON[K] }) => void): Macaroon => {
      const copy = JSON.parse(JSON.stringify(json)) as MacaroonJSON;
      f(copy);
      return Macaroon.decode(copy);
    };
    const variants = [
      tamper((j) => (j.i = 'primarY')),
      tamper((j) => (j.c = [{ i: 'a = 2' }, c[1]!])),
      tamper((j) => (j.c = [c[1]!])),
      tamper((j) => (j.c = [c[0]!])),
      tamper((j) => (j.c = [c[0]!, c[1]!, { i: 'extra' }])),
      tamper((j) => (j.c = [c[1]!, c[0]!])),
      tamper((j) => {
        const vid = fromB64(c[1]!.v64!);
        vid[30] = (vid[30] as number) ^ 1;
        j.c = [c[0]!, { ...c[1]!, v64: b64url(vid) }];
      }),
      tamper((j) => (j.c = [c[0]!, { ...c[1]!, i: 'tp-iD' }])),
      tamper((j) => (j.c = [c[0]!, { i: c[1]!.i! }])), // third-party caveat turned first-party
    ];
    for (const m of variants) expect(outcome(() => verifySignature(m, 'root', [m.bindForRequest(discharge)]))).toBe('ERR_SIGNATURE');
    // The location is a hint outside the chain: changing it alone still verifies.
    const moved = tamper((j) => (j.c = [c[0]!, { ...c[1]!, l: 'https://elsewhere.example' }]));
    expect(verifySignature(moved, 'root', [bound])).toHaveLength(2);
  });

  it('a tampered discharge is ERR_SIGNATURE', () => {
    expectTesseraError(() => verifySignature(primary, 'root', [bound.addFirstPartyCaveat('more')]), 'ERR_SIGNATURE');
    const stripped = { ...bound.toJSONObject() };
    delete (stripped as { c?: unknown }).c;
    expectTesseraError(() => verifySignature(primary, 'root', [Macaroon.decode(stripped)]), 'ERR_SIGNATURE');
  });
});

describe('discharge graph', () => {
  /** A primary whose discharge chain is `depth` deep: d1 discharges the primary, d2 discharges d1… */
  function chain(depth: number): { primary: Macaroon; discharges: Macaroon[] } {
    const primary = Macaroon.mint({ rootKey: 'root', identifier: 'p' }).addThirdPartyCaveat({ caveatKey: 'k1', identifier: 'd1', location: 'l' });
    const discharges: Macaroon[] = [];
    for (let i = 1; i <= depth; i++) {
      let d = Macaroon.mint({ rootKey: `k${i}`, identifier: `d${i}` });
      if (i < depth) d = d.addThirdPartyCaveat({ caveatKey: `k${i + 1}`, identifier: `d${i + 1}`, location: 'l' });
      discharges.push(primary.bindForRequest(d));
    }
    return { primary, discharges };
  }

  it('the depth limit: ERR_LIMIT past maxDepth (default 8), fine at it', () => {
    const three = chain(3);
    expect(verifySignature(three.primary, 'root', three.discharges, { limits: { maxDepth: 3 } }).map((v) => v.depth)).toEqual([0, 1, 2, 3]);
    expectTesseraError(() => verifySignature(three.primary, 'root', three.discharges, { limits: { maxDepth: 2 } }), 'ERR_LIMIT');
    const eight = chain(8);
    expect(verifySignature(eight.primary, 'root', eight.discharges)).toHaveLength(9);
    const nine = chain(9);
    expectTesseraError(() => verifySignature(nine.primary, 'root', nine.discharges), 'ERR_LIMIT');
    expect(verifySignature(nine.primary, 'root', nine.discharges, { limits: { maxDepth: 9 } })).toHaveLength(10);
  });

  it('too many discharges: ERR_LIMIT past maxDischarges (default 32), before any HMAC', () => {
    const wide = (n: number) => {
      let p = Macaroon.mint({ rootKey: 'root', identifier: 'p' });
      for (let i = 0; i < n; i++) p = p.addThirdPartyCaveat({ caveatKey: `k${i}`, identifier: `d${i}`, location: 'l' });
      return { p, ds: Array.from({ length: n }, (_, i) => p.bindForRequest(Macaroon.mint({ rootKey: `k${i}`, identifier: `d${i}` }))) };
    };
    const three = wide(3);
    expect(verifySignature(three.p, 'root', three.ds, { limits: { maxDischarges: 3 } })).toHaveLength(4);
    expectTesseraError(() => verifySignature(three.p, 'root', three.ds, { limits: { maxDischarges: 2 } }), 'ERR_LIMIT');
    const many = wide(33);
    expect(verifySignature(many.p, 'root', many.ds, { limits: { maxDischarges: 33 } })).toHaveLength(34);
    expectTesseraError(() => verifySignature(many.p, 'root', many.ds), 'ERR_LIMIT');
    // Counted before the signature is even checked.
    expectTesseraError(() => verifySignature(many.p, 'wrong', many.ds), 'ERR_LIMIT');
  });

  it('a limit must be a positive integer', () => {
    const m = Macaroon.mint({ rootKey: 'root', identifier: 'p' });
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectTesseraError(() => verifySignature(m, 'root', [], { limits: { maxDepth: bad } }), 'ERR_INVALID_ARGUMENT');
    }
  });

  it('a cycle through two discharges is ERR_DISCHARGE_CYCLE', () => {
    const primary = Macaroon.mint({ rootKey: 'root', identifier: 'p' }).addThirdPartyCaveat({ caveatKey: 'ka', identifier: 'a', location: 'l' });
    const a = Macaroon.mint({ rootKey: 'ka', identifier: 'a' }).addThirdPartyCaveat({ caveatKey: 'kb', identifier: 'b', location: 'l' });
    const b = Macaroon.mint({ rootKey: 'kb', identifier: 'b' }).addThirdPartyCaveat({ caveatKey: 'ka', identifier: 'a', location: 'l' });
    expectTesseraError(() => verifySignature(primary, 'root', [primary.bindForRequest(a), primary.bindForRequest(b)]), 'ERR_DISCHARGE_CYCLE');
  });

  it('a discharge for a caveat of another primary is unused; a missing one is ERR_DISCHARGE_MISSING', () => {
    const p = Macaroon.mint({ rootKey: 'root', identifier: 'p' }).addThirdPartyCaveat({ caveatKey: 'k', identifier: 'x', location: 'l' });
    const dx = p.bindForRequest(Macaroon.mint({ rootKey: 'k', identifier: 'x' }));
    const dy = p.bindForRequest(Macaroon.mint({ rootKey: 'k', identifier: 'y' }));
    expectTesseraError(() => verifySignature(p, 'root', [dx, dy]), 'ERR_DISCHARGE_UNUSED');
    expectTesseraError(() => verifySignature(p, 'root', [dy]), 'ERR_DISCHARGE_MISSING');
    expectTesseraError(() => verifySignature(p, 'root', []), 'ERR_DISCHARGE_MISSING');
    expect(verifySignature(p, 'root', [dx])).toHaveLength(2);
  });
});

describe('verifySignature arguments', () => {
  it('refuses what is not a Macaroon with a typed error, not a TypeError', () => {
    const m = Macaroon.mint({ rootKey: 'k', identifier: 'id' });
    for (const call of [
      () => verifySignature(m.encode() as unknown as Macaroon, 'k'),
      () => verifySignature(m, 'k', [m.encode() as unknown as Macaroon]),
      () => verifySignature(m, 'k', 'nope' as unknown as Macaroon[]),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
  });
});
