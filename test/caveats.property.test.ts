import fc from 'fast-check';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../src/errors.js';
import { caveat, createRegistry, defaultRegistry, evaluate, evaluateAll, parseCondition, type CaveatType, type RequestContext } from '../caveats/index.js';
import { clientIp, isIpAddress } from '../caveats/client-ip.js';
import { runs } from './support/property.js';

/** The builder output parses back, through the registry, to the same canonical text. */
function roundTrips(condition: string): void {
  const { name, arg } = parseCondition(condition);
  const type = defaultRegistry.resolve(name);
  expect(type.format(type.parse(arg))).toBe(arg);
  expect(defaultRegistry.parse(condition).type).toBe(type);
}

const token = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,15}$/);
const tokens = fc.uniqueArray(token, { minLength: 1, maxLength: 8 });
const date = fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
const literalSegment = fc.stringMatching(/^[a-z0-9._~-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
const patternSegment = fc.oneof(literalSegment, fc.constant('*'), fc.constant('**'), literalSegment.map((s) => `${s}*`), literalSegment.map((s) => `*${s}`));
const pattern = fc.array(patternSegment, { maxLength: 6 }).map((segs) => `/${segs.join('/')}`);
const byte = fc.integer({ min: 0, max: 255 });

/** A random range written non-canonically (IPv6 fully expanded, upper case). */
const cidr = fc.oneof(
  fc.tuple(fc.array(byte, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })).map(([b, p]) => ({ bytes: mask(b, p), prefix: p })),
  fc.tuple(fc.array(fc.oneof(fc.constant(0), byte), { minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 })).map(([b, p]) => ({ bytes: mask(b, p), prefix: p })),
).map(({ bytes, prefix }) => {
  const address = bytes.length === 4
    ? bytes.join('.')
    : Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16).toUpperCase().padStart(4, '0')).join(':');
  return `${address}/${prefix}`;
});

function mask(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => b & (0xff << Math.max(0, 8 - Math.max(0, prefix - 8 * i))) & 0xff);
}

describe('builders round-trip (property)', () => {
  it('every builder output parses back to the same canonical text', () => {
    fc.assert(fc.property(date, (d) => { roundTrips(caveat.timeBefore(d)); roundTrips(caveat.timeAfter(d)); }));
    fc.assert(fc.property(date, (d) => { expect(defaultRegistry.parse(caveat.timeBefore(d)).value).toEqual(d); }));
    fc.assert(fc.property(tokens, (t) => { roundTrips(caveat.ops(t)); roundTrips(caveat.tool(t)); roundTrips(caveat.aud(t[0] ?? 'x')); }));
    fc.assert(fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Z][A-Z-]{0,9}$/), { minLength: 1, maxLength: 5 }), (m) => roundTrips(caveat.method(m))));
    fc.assert(fc.property(pattern.filter((p) => !p.split('/').some((s) => s.includes('**') && s !== '**')), (p) => {
      expect(caveat.resource(p)).toBe(`resource ${p}`);
      roundTrips(caveat.resource(p));
    }));
    fc.assert(fc.property(fc.uniqueArray(cidr, { minLength: 1, maxLength: 5 }), (ranges) => roundTrips(caveat.clientIp(ranges))));
    fc.assert(fc.property(token, fc.integer({ min: 1, max: 1e9 }), (k, n) => { roundTrips(caveat.declared(k, `v ${k}`)); roundTrips(caveat.uses(n)); }));
  });

  it('a builder fed arbitrary strings either refuses them or keeps their exact meaning', () => {
    // Half plausible names (so the "kept its meaning" branch runs), half arbitrary text.
    const anyString = fc.oneof(token, fc.string({ unit: 'binary', maxLength: 12 }));
    let accepted = 0;
    const refusedOr = (build: () => string, check: (value: unknown) => void): void => {
      let text: string;
      try {
        text = build();
      } catch (e) {
        expect(isTesseraError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
        return;
      }
      accepted++;
      check(defaultRegistry.parse(text).value);
    };
    fc.assert(fc.property(fc.array(anyString, { maxLength: 3 }), (items) => {
      refusedOr(() => caveat.ops(items), (v) => expect(v).toEqual([...items].sort()));
      refusedOr(() => caveat.tool(items), (v) => expect(v).toEqual([...items].sort()));
      refusedOr(() => caveat.method(items), (v) => expect(v).toEqual([...items].sort()));
    }));
    fc.assert(fc.property(anyString, anyString, (a, b) => {
      refusedOr(() => caveat.aud(a), (v) => expect(v).toBe(a));
      refusedOr(() => caveat.declared(a, b), (v) => expect(v).toEqual({ key: a, value: b }));
      refusedOr(() => caveat.resource(`/${a}`), (v) => expect(`/${(v as string[]).join('/')}`).toBe(`/${a}`));
    }));
    expect(accepted).toBeGreaterThan(100); // both branches ran: builders accept what they should
  });
});

// ---- Narrowing: adding a caveat never widens what a token allows. ----

const T0 = Date.parse('2026-01-01T00:00:00Z');
const instant = fc.integer({ min: -3, max: 3 }).map((h) => new Date(T0 + h * 3_600_000));
const OPS = ['read', 'write', 'admin'] as const;
const IPS = ['10.0.0.1', '10.200.0.1', '192.168.1.5', '::ffff:10.0.0.1', '2001:db8::1', 'fe80::1', 'bogus'] as const;
const PATHS = ['/', '/docs', '/docs/a.md', '/docs/x/b.md', '//docs//a.md', '/repos/acme/issues', '/docs/../etc', '/docs/%2e%2e', '/x'] as const;

/** App caveat: `tier n` passes when ctx.tier ≥ n; shows application caveats narrow too. */
const tier: CaveatType<number> = {
  name: 'tier',
  parse(arg) {
    if (!/^[0-3]$/.test(arg)) throw new Error('bad tier');
    return Number(arg);
  },
  format: String,
  check: (n, ctx) => (typeof ctx['tier'] === 'number' && ctx['tier'] >= n ? { ok: true } : { ok: false, reason: 'tier too low' }),
};
const registry = createRegistry([tier]);

const condition = fc.oneof(
  instant.map((d) => caveat.timeBefore(d)),
  instant.map((d) => caveat.timeAfter(d)),
  fc.subarray([...OPS], { minLength: 1 }).map((o) => caveat.ops(o)),
  fc.constantFrom('/**', '/docs/**', '/docs/*.md', '/repos/*/issues', '/', '/x').map((p) => caveat.resource(p)),
  fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }).map((m) => caveat.method(m)),
  fc.constantFrom('svc', 'other').map((a) => caveat.aud(a)),
  fc.subarray(['10.0.0.0/8', '192.168.1.0/24', '2001:db8::/32', '::/0', '0.0.0.0/0'], { minLength: 1 }).map((r) => caveat.clientIp(r)),
  fc.subarray(['search', 'read_file'], { minLength: 1 }).map((t) => caveat.tool(t)),
  fc.tuple(fc.constantFrom('user', 'team'), fc.constantFrom('alice', 'bob')).map(([k, v]) => caveat.declared(k, v)),
  fc.integer({ min: 1, max: 3 }).map((n) => caveat.uses(n)),
  fc.integer({ min: 0, max: 3 }).map((n) => `tier ${n}`),
  fc.constantFrom('bogus x', 'ops', 'ops read,,write', 'time-before 2026-02-30T00:00:00Z', 'tier 9', 'ops  read'),
);

const request: fc.Arbitrary<RequestContext> = fc.record(
  {
    now: instant,
    operation: fc.constantFrom(...OPS),
    resource: fc.constantFrom(...PATHS),
    method: fc.constantFrom('GET', 'POST', 'DELETE', 'get'),
    ip: fc.constantFrom(...IPS),
    tool: fc.constantFrom('search', 'read_file', 'shell'),
    audience: fc.constantFrom('svc', 'other'),
    declared: fc.dictionary(fc.constantFrom('user', 'team'), fc.constantFrom('alice', 'bob')).map((d) => new Map(Object.entries(d))),
    tier: fc.integer({ min: 0, max: 3 }),
  },
  { requiredKeys: [] },
);
const options = fc.record({ clockSkewMs: fc.constantFrom(0, 1000, 300_000), allowStateful: fc.boolean() });

describe('narrowing (property)', () => {
  it('if S ∪ {c} allows a request then S allows it (and so does {c})', () => {
    fc.assert(
      fc.property(fc.array(condition, { maxLength: 6 }), condition, fc.nat(), request, options, (set, extra, at, ctx, opts) => {
        const narrowed = [...set];
        narrowed.splice(at % (set.length + 1), 0, extra);
        const wide = evaluate(set, ctx, opts, registry);
        const narrow = evaluate(narrowed, ctx, opts, registry);
        if (narrow.ok) {
          expect(wide.ok).toBe(true);
          expect(evaluate([extra], ctx, opts, registry).ok).toBe(true);
        }
        // evaluateAll agrees with evaluate, and its failure is the first failing result.
        const all = evaluateAll(narrowed, ctx, opts, registry);
        expect(all.ok).toBe(narrow.ok);
        if (!all.ok) expect(all.failure).toEqual(narrow.results.find((r) => !r.ok));
      }),
      runs(500),
    );
  });
});

describe('client-ip addresses without node:net (property)', () => {
  // IP-ish text: hex groups, dotted quads, colons, double colons, stray characters.
  const piece = fc.oneof(
    fc.stringMatching(/^[0-9a-fA-F]{0,5}$/),
    fc.tuple(byte, byte, byte, byte).map((b) => b.join('.')),
    fc.constantFrom(':', '::', '.', '0', '00', '01', '256', '%eth0', ' ', 'g', 'ffff'),
  );
  const text = fc.array(fc.tuple(piece, fc.constantFrom(':', '::', '.', '')), { maxLength: 10 }).map((parts) => parts.map(([p, s]) => p + s).join(''));
  const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).chain((g) =>
    fc.tuple(fc.constant(g), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.boolean()).map(([groups, from, len, quad]) => {
      const hex = groups.map((x) => x.toString(16));
      const words = quad ? [...hex.slice(0, 6), `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`] : hex;
      const cut = Math.min(len, words.length - from);
      return cut >= 1 && from + cut <= words.length ? `${words.slice(0, from).join(':')}::${words.slice(from + cut).join(':')}` : words.join(':');
    }),
  );

  it('accepts exactly what net.isIP accepts (zone ids aside)', () => {
    fc.assert(fc.property(fc.oneof(text, v6), (t) => {
      expect(isIpAddress(t)).toBe(isIP(t) !== 0 && !t.includes('%'));
    }), runs(1000));
  });

  it('reads IPv6 to the bytes the WHATWG URL parser does', () => {
    fc.assert(fc.property(v6, (t) => {
      if (isIP(t) !== 6) return;
      const [range] = clientIp.parse(t);
      const host = new URL(`http://[${t}]/`).hostname.slice(1, -1);
      const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
      const expected = mapped ? [mapped[1]!, mapped[2]!].flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]).join('.') : host;
      expect(range!.address).toBe(expected);
    }), runs(500));
  });
});
