import { describe, expect, it } from 'vitest';
import { isTesseraError, type ErrorCode } from '../src/errors.js';
import {
  CaveatRegistry,
  STANDARD_CAVEATS,
  aud,
  caveat,
  clientIp,
  collectDeclared,
  createRegistry,
  declared,
  defaultRegistry,
  evaluate,
  evaluateAll,
  method,
  ops,
  parseCondition,
  resource,
  timeAfter,
  timeBefore,
  tool,
  uses,
  type CaveatType,
  type RequestContext,
} from '../caveats/index.js';

const OPTS = { clockSkewMs: 0, allowStateful: false } as const;

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a TesseraError' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return isTesseraError(e) ? e.code : 'not a TesseraError';
  }
}

/** Every hostile argument must be refused by parse with ERR_CAVEAT_MALFORMED. */
function expectMalformed(type: CaveatType<unknown>, args: readonly string[]): void {
  for (const arg of args) expect([arg, codeOf(() => type.parse(arg))]).toEqual([arg, 'ERR_CAVEAT_MALFORMED']);
}

const canonical = (type: CaveatType<unknown>, arg: string): string => type.format(type.parse(arg));

describe('parseCondition', () => {
  it('splits name and argument at the first space', () => {
    expect(parseCondition('declared user alice smith')).toEqual({ name: 'declared', arg: 'user alice smith' });
    expect(parseCondition('flag')).toEqual({ name: 'flag', arg: '' });
  });

  it('rejects empty names, bad names, non-canonical spacing and unsafe characters', () => {
    const bad = [
      '', ' ops read', 'ops  read', 'ops read ', 'ops ', '1ops read', 'op/s read', 'ops\tread', 'ops read\n',
      'ops re\0ad', 'ops read\x7f', 'ops read\u0085', 'ops read\u202e', 'ops re\u200bad', 'ops\u00a0read',
      'ops read\u2028', 'ops \ud800', 'ops read\ufeff', `ops ${'a'.repeat(5000)}`, `${'a'.repeat(65)} x`,
    ];
    for (const text of bad) expect([text, codeOf(() => parseCondition(text))]).toEqual([text, 'ERR_CAVEAT_MALFORMED']);
  });

  it('accepts non-ASCII letters (only declared values can carry them)', () => {
    expect(parseCondition('declared name Zoë 😀').arg).toBe('name Zoë 😀');
  });
});

describe('time-before / time-after', () => {
  it('parses strict RFC 3339 and formats canonically as toISOString', () => {
    expect(canonical(timeBefore, '2026-03-01T12:00:00Z')).toBe('2026-03-01T12:00:00.000Z');
    expect(canonical(timeBefore, '2026-03-01T12:00:00.5+01:30')).toBe('2026-03-01T10:30:00.500Z');
    expect(canonical(timeAfter, '2024-02-29T23:59:59.999-00:00')).toBe('2024-02-29T23:59:59.999Z');
    expect(canonical(timeBefore, '0000-01-01T00:00:00Z')).toBe('0000-01-01T00:00:00.000Z');
  });

  it('rounds sub-millisecond digits toward the narrower meaning', () => {
    expect(canonical(timeBefore, '2026-01-01T00:00:00.000999999Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(canonical(timeAfter, '2026-01-01T00:00:00.000000001Z')).toBe('2026-01-01T00:00:00.001Z');
    expect(canonical(timeAfter, '2026-12-31T23:59:59.999000001Z')).toBe('2027-01-01T00:00:00.000Z');
  });

  it('rejects impossible and loose timestamps', () => {
    for (const type of [timeBefore, timeAfter]) {
      expectMalformed(type, [
        '2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2026-04-31T00:00:00Z',
        '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z',
        '2026-01-01T23:60:00Z', '2026-12-31T23:59:60Z', '2026-01-01', '2026-01-01T00:00:00', '2026-01-01t00:00:00z',
        '2026-01-01 00:00:00Z', '2026-01-01T00:00Z', '2026-01-01T00:00:00+0100', '2026-01-01T00:00:00+24:00',
        '2026-01-01T00:00:00+01:60', '2026-01-01T00:00:00.Z', '2026-01-01T00:00:00.1234567890Z',
        '+02026-01-01T00:00:00Z', '26-01-01T00:00:00Z', '２０２６-01-01T00:00:00Z', '2026-01-01T00:00:00Zjunk',
        '0000-01-01T00:00:00+00:01', '9999-12-31T23:59:59-00:01', 'now', '', '1767225600',
      ]);
    }
  });

  it('format refuses invalid dates and years a timestamp cannot spell', () => {
    expect(codeOf(() => timeBefore.format(new Date(Number.NaN)))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => timeAfter.format(new Date(Date.UTC(10000, 0, 1))))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => timeBefore.format(new Date(-62167219200001)))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('time-before passes strictly before the instant; skew extends it', () => {
    const t = timeBefore.parse('2026-01-01T00:00:00Z');
    const at = (ms: number) => ({ now: new Date(t.getTime() + ms) });
    expect(timeBefore.check(t, at(-1), OPTS).ok).toBe(true);
    expect(timeBefore.check(t, at(0), OPTS)).toEqual({ ok: false, reason: 'token has expired' });
    expect(timeBefore.check(t, at(4999), { ...OPTS, clockSkewMs: 5000 }).ok).toBe(true);
    expect(timeBefore.check(t, at(5000), { ...OPTS, clockSkewMs: 5000 }).ok).toBe(false);
  });

  it('time-after passes at or after the instant; skew lets it start early', () => {
    const t = timeAfter.parse('2026-01-01T00:00:00Z');
    const at = (ms: number) => ({ now: new Date(t.getTime() + ms) });
    expect(timeAfter.check(t, at(0), OPTS).ok).toBe(true);
    expect(timeAfter.check(t, at(-1), OPTS)).toEqual({ ok: false, reason: 'token is not valid yet' });
    expect(timeAfter.check(t, at(-5000), { ...OPTS, clockSkewMs: 5000 }).ok).toBe(true);
    expect(timeAfter.check(t, at(-5001), { ...OPTS, clockSkewMs: 5000 }).ok).toBe(false);
  });

  it('fails closed without a usable now', () => {
    const t = timeBefore.parse('9999-01-01T00:00:00Z');
    for (const ctx of [{}, { now: new Date(Number.NaN) }, { now: '2020-01-01T00:00:00Z' as unknown as Date }]) {
      expect(timeBefore.check(t, ctx, OPTS).ok).toBe(false);
      expect(timeAfter.check(timeAfter.parse('2000-01-01T00:00:00Z'), ctx, OPTS).ok).toBe(false);
    }
  });

  it('evaluate validates clockSkewMs (default 0, at most five minutes)', () => {
    const cond = [caveat.timeBefore(new Date(1000))];
    expect(evaluate(cond, { now: new Date(1000) }).ok).toBe(false);
    expect(evaluate(cond, { now: new Date(1000) }, { clockSkewMs: 1 }).ok).toBe(true);
    for (const clockSkewMs of [-1, 1.5, 300_001, Number.NaN, Infinity]) {
      expect(codeOf(() => evaluate(cond, { now: new Date() }, { clockSkewMs }))).toBe('ERR_INVALID_ARGUMENT');
    }
  });
});

describe('ops / tool / method', () => {
  it('parse lists, canonically sorted', () => {
    expect(ops.parse('write,read')).toEqual(['read', 'write']);
    expect(canonical(ops, 'write,read')).toBe('read,write');
    expect(canonical(tool, 'search,read_file,mcp.github:issues')).toBe('mcp.github:issues,read_file,search');
    expect(canonical(method, 'POST,GET,M-SEARCH')).toBe('GET,M-SEARCH,POST');
  });

  it('reject empty lists, empty items, duplicates, separators and odd characters', () => {
    const common = [
      '', ',', 'read,', ',read', 'read,,write', 'read write', 'read,read', 'réad', 'read\u200b', 'read;write',
      '-read', Array.from({ length: 65 }, (_, i) => `op${i}`).join(','), 'a'.repeat(129),
    ];
    expectMalformed(ops, common);
    expectMalformed(tool, [...common, 'read/file']);
    expectMalformed(method, ['', 'get', 'Get', 'GET,', 'GET,,POST', 'GET,GET', 'G3T', 'GET POST', 'A'.repeat(33)]);
  });

  it('check membership, exactly and case-sensitively, failing closed when the field is missing', () => {
    const rw = ops.parse('read,write');
    expect(ops.check(rw, { operation: 'read' }, OPTS).ok).toBe(true);
    expect(ops.check(rw, { operation: 'admin' }, OPTS).ok).toBe(false);
    expect(ops.check(rw, { operation: 'Read' }, OPTS).ok).toBe(false);
    expect(ops.check(rw, {}, OPTS)).toEqual({ ok: false, reason: 'request has no operation' });
    expect(ops.check(rw, { operation: 1 as unknown as string }, OPTS).ok).toBe(false);
    expect(tool.check(tool.parse('search'), { tool: 'search' }, OPTS).ok).toBe(true);
    expect(tool.check(tool.parse('search'), { tool: 'search2' }, OPTS).ok).toBe(false);
    expect(tool.check(tool.parse('search'), { operation: 'search' }, OPTS).ok).toBe(false);
    expect(method.check(method.parse('GET'), { method: 'GET' }, OPTS).ok).toBe(true);
    expect(method.check(method.parse('GET'), { method: 'HEAD' }, OPTS).ok).toBe(false);
    expect(method.check(method.parse('GET'), { method: 'get' }, OPTS).ok).toBe(false);
    expect(method.check(method.parse('GET'), {}, OPTS).ok).toBe(false);
  });
});

describe('aud', () => {
  it('matches the audience exactly', () => {
    const v = aud.parse('https://api.example.com');
    expect(aud.check(v, { audience: 'https://api.example.com' }, OPTS).ok).toBe(true);
    expect(aud.check(v, { audience: 'https://api.example.com/' }, OPTS).ok).toBe(false);
    expect(aud.check(aud.parse('svc'), { audience: 'svc2' }, OPTS).ok).toBe(false);
    expect(aud.check(v, {}, OPTS)).toEqual({ ok: false, reason: 'verifier has no audience' });
  });

  it('rejects empty, spaced, non-ASCII and oversized audiences', () => {
    expectMalformed(aud, ['', 'a b', 'svс' /* Cyrillic es */, 'a\tb', 'x'.repeat(257)]);
  });
});

describe('resource', () => {
  const allows = (pattern: string, path: string): boolean => resource.check(resource.parse(pattern), { resource: path }, OPTS).ok;

  it('accepts and keeps well-formed patterns', () => {
    for (const p of ['/', '/docs/**', '/docs/*.md', '/repos/acme/**/issues', '/a*b*c', "/~user/$x&y(1)+;=:@!'", '/caf%C3%A9']) {
      expect(canonical(resource, p)).toBe(p);
    }
  });

  it('rejects relative, empty-segment, dot, escape-smuggling and reserved-metacharacter patterns', () => {
    expectMalformed(resource, [
      '', 'docs', 'docs/**', '/docs/', '//docs', '/docs//a', '/docs/..', '/docs/../etc', '/./docs', '/.',
      '/a**', '/**b', '/***', '/a/x**y', '/a?', '/a[1]', '/a{b,c}', '/a,b', '/a b', '/a\\b', '/a%2e%2e',
      '/a/%2E%2E', '/a%2fb', '/a%2F', '/a%5cb', '/a%25', '/a%00', '/a%1F', '/a%7f', '/a%zz', '/a%2', '/café',
      `/${'a/'.repeat(64)}a`,
    ]);
  });

  it('matches * within one segment and ** across whole segments', () => {
    const table: [string, string, boolean][] = [
      ['/docs/**', '/docs', true], ['/docs/**', '/docs/', true], ['/docs/**', '/docs/a', true],
      ['/docs/**', '/docs/a/b/c', true], ['/docs/**', '/docsx', false], ['/docs/**', '/doc', false],
      ['/docs/**', '/', false], ['/docs/*.md', '/docs/a.md', true], ['/docs/*.md', '/docs/.md', true],
      ['/docs/*.md', '/docs/a/b.md', false], ['/docs/*.md', '/docs/a.mdx', false], ['/**', '/', true],
      ['/**', '/x/y', true], ['/', '/', true], ['/', '//', true], ['/', '/x', false],
      ['/a/**/z', '/a/z', true], ['/a/**/z', '/a/b/z', true], ['/a/**/z', '/a/b/c/z', true],
      ['/a/**/z', '/a/b/c', false], ['/*', '/x', true], ['/*', '/', false], ['/*', '/x/y', false],
      ['/a*b*c', '/abc', true], ['/a*b*c', '/aXbYc', true], ['/a*b*c', '/abbc', true], ['/a*b*c', '/acb', false],
      ['/repos/*/issues', '/repos/acme/issues', true], ['/repos/*/issues', '/repos/acme/x/issues', false],
      ['/docs/a', '//docs///a//', true], ['/Docs', '/docs', false],
    ];
    for (const [pattern, path, expected] of table) expect([pattern, path, allows(pattern, path)]).toEqual([pattern, path, expected]);
  });

  it('refuses hostile request paths even under /**', () => {
    const hostile = [
      '/docs/../etc/passwd', '/docs/./a', '/..', '/docs/%2e%2e/x', '/docs/%2E%2e/x', '/docs/.%2e/x', '/docs%2fx',
      '/docs%2Fx', '/docs%5cx', '/docs%252e%252e', '/docs\\..\\x', '/docs/\0', '/docs/a\nb', '/docs/\u202e',
      'docs/a', '', '/docs/a?x=1', '/docs/a#frag', '/docs/%zz', `/${'a'.repeat(5000)}`, `/${'a/'.repeat(65)}`,
    ];
    for (const path of hostile) expect([path, allows('/**', path)]).toEqual([path, false]);
    expect(resource.check(resource.parse('/**'), {}, OPTS)).toEqual({ ok: false, reason: 'request has no resource' });
  });

  it('matches pathological patterns without blowing up', () => {
    // Exponential backtracking would hang here; the suite's timeout is the guard (speed is benched).
    const deep = `/${Array.from({ length: 63 }, () => 'a').join('/')}`;
    expect(allows('/**/a/**/a/**/a/**/a/**/b', deep)).toBe(false);
    expect(allows(`/*a*a*a*a*a*a*a*a*b`, `/${'a'.repeat(3000)}`)).toBe(false);
  });
});

describe('client-ip', () => {
  it('parses IPv4/IPv6 ranges into canonical, sorted text', () => {
    expect(canonical(clientIp, '10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(canonical(clientIp, '10.1.2.3')).toBe('10.1.2.3/32');
    expect(canonical(clientIp, '2001:DB8::/32')).toBe('2001:db8::/32');
    expect(canonical(clientIp, '2001:0db8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1/128');
    expect(canonical(clientIp, '2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1/128');
    expect(canonical(clientIp, '::/0')).toBe('::/0');
    expect(canonical(clientIp, '::1')).toBe('::1/128');
    expect(canonical(clientIp, '1:2:3:4:5:6:7::')).toBe('1:2:3:4:5:6:7:0/128');
    expect(canonical(clientIp, '::1:2:3:4:5:6:7')).toBe('0:1:2:3:4:5:6:7/128');
    expect(canonical(clientIp, '1::1.2.3.4')).toBe('1::102:304/128');
    expect(canonical(clientIp, '1:0:0:2:0:0:0:0/64')).toBe('1:0:0:2::/64');
    expect(canonical(clientIp, '1:0:0:2:0:0:3:4')).toBe('1::2:0:0:3:4/128');
    expect(canonical(clientIp, '::ffff:10.0.0.0/120')).toBe('10.0.0.0/24');
    expect(canonical(clientIp, '::ffff:10.0.0.0/104')).toBe('10.0.0.0/8');
    expect(canonical(clientIp, '::FFFF:0:0/96')).toBe('0.0.0.0/0');
    expect(canonical(clientIp, '10.0.0.0/8,1.0.0.0/8,::1')).toBe('1.0.0.0/8,10.0.0.0/8,::1/128');
  });

  it('rejects bad addresses, prefixes, host bits and list syntax', () => {
    expectMalformed(clientIp, [
      '', '10.0.0.0/33', '1.2.3', '1.2.3.4/', '1.2.3.4/08', '1.2.3.4/-1', '1.2.3.4/+8', '1.2.3.4/8/8',
      '010.0.0.1', '1.2.3.256', '10.0.0.1/8', '::/129', '::1/0', 'fe80::1%eth0', '1::2::3', '1:2:3:4:5:6:7:8:9',
      '::ffff:10.0.0.0/80', '::ffff:10.0.0.1/104', '10.0.0.0/8,', ',10.0.0.0/8', '10.0.0.0/8,,1.0.0.0/8',
      '10.0.0.0/8,10.0.0.0/8', '10.0.0.0/8,::ffff:10.0.0.0/104', '10.0.0.0/8 ', '１.2.3.4', 'localhost', '*',
      '0x7f.0.0.1', '2130706433',
    ]);
  });

  it('checks IPv4, IPv6 and IPv4-mapped clients exactly at prefix boundaries', () => {
    const ranges = clientIp.parse('10.0.0.0/8,192.168.1.0/25,2001:db8::/32');
    const allows = (ip: string): boolean => clientIp.check(ranges, { ip }, OPTS).ok;
    expect(allows('10.255.0.1')).toBe(true);
    expect(allows('::ffff:10.0.0.1')).toBe(true);
    expect(allows('::FFFF:10.0.0.1')).toBe(true);
    expect(allows('11.0.0.1')).toBe(false);
    expect(allows('::ffff:11.0.0.1')).toBe(false);
    expect(allows('::a00:1')).toBe(false); // IPv4-compatible form is plain IPv6
    expect(allows('192.168.1.127')).toBe(true);
    expect(allows('192.168.1.128')).toBe(false);
    expect(allows('2001:db8:ffff::1')).toBe(true);
    expect(allows('2001:db9::1')).toBe(false);
    for (const ip of ['fe80::1%eth0', 'not-an-ip', '', '010.0.0.1', ' 10.0.0.1']) expect(allows(ip)).toBe(false);
    expect(clientIp.check(ranges, {}, OPTS)).toEqual({ ok: false, reason: 'request has no client IP' });
    expect(clientIp.check(clientIp.parse('0.0.0.0/0'), { ip: '::1' }, OPTS).ok).toBe(false);
    expect(clientIp.check(clientIp.parse('::/0'), { ip: '::ffff:1.2.3.4' }, OPTS).ok).toBe(false);
    expect(clientIp.check(clientIp.parse('::/0'), { ip: '::1' }, OPTS).ok).toBe(true);
  });
});

describe('declared', () => {
  it('parses key and the rest as value', () => {
    expect(declared.parse('user alice smith')).toEqual({ key: 'user', value: 'alice smith' });
    expect(declared.format({ key: 'user', value: 'Zoë' })).toBe('user Zoë');
    expectMalformed(declared, ['', 'user', 'user ', ' user alice', 'user  alice', 'us/er alice', 'user alice\n', 'usér alice']);
  });

  it('passes only when the collected facts agree, failing closed without them', () => {
    const v = declared.parse('user alice');
    expect(declared.check(v, { declared: new Map([['user', 'alice']]) }, OPTS).ok).toBe(true);
    expect(declared.check(v, { declared: new Map([['user', 'bob']]) }, OPTS).ok).toBe(false);
    expect(declared.check(v, { declared: new Map() }, OPTS).ok).toBe(false);
    expect(declared.check(v, {}, OPTS)).toEqual({ ok: false, reason: 'request has no declared facts' });
  });

  it('collectDeclared gathers facts, rejects conflicts and returns an immutable map', () => {
    const facts = collectDeclared(['declared user alice', 'ops read', 'declared team x y', 'declared user alice', 'bogus 1']);
    expect([...facts]).toEqual([['user', 'alice'], ['team', 'x y']]);
    expect(codeOf(() => (facts as Map<string, string>).set('user', 'mallory'))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => (facts as Map<string, string>).delete('user'))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => (facts as Map<string, string>).clear())).toBe('ERR_INVALID_ARGUMENT');
    expect(facts.get('user')).toBe('alice');
    expect(codeOf(() => collectDeclared(['declared user alice', 'declared user bob']))).toBe('ERR_CAVEAT_FAILED');
    expect(codeOf(() => collectDeclared(['declared user'])).valueOf()).toBe('ERR_CAVEAT_MALFORMED');
    expect(codeOf(() => collectDeclared(['declared user  alice']))).toBe('ERR_CAVEAT_MALFORMED');
  });
});

describe('uses (stateful)', () => {
  it('parses a positive decimal up to 1e9 without leading zeros', () => {
    expect(uses.parse('1')).toBe(1);
    expect(uses.parse('1000000000')).toBe(1e9);
    expectMalformed(uses, ['', '0', '01', '-1', '+1', '1.5', '1e3', '0x10', '1000000001', '99999999999', '１', ' 1', '1 ']);
  });

  it('fails closed unless the verifier asks to count it', () => {
    const conds = [caveat.ops(['read']), caveat.uses(3)];
    const plain = evaluate(conds, { operation: 'read' });
    expect(plain.ok).toBe(false);
    expect(plain.results[1]).toEqual({ condition: 'uses 3', ok: false, code: 'ERR_CAVEAT_FAILED', reason: 'usage-limited caveat needs a usage counter' });
    const counted = evaluate(conds, { operation: 'read' }, { allowStateful: true });
    expect(counted).toEqual({ ok: true, results: [{ condition: 'ops read', ok: true }, { condition: 'uses 3', ok: true }], stateful: [{ condition: 'uses 3', name: 'uses', value: 3 }] });
    expect(evaluateAll(conds, { operation: 'read' }, { allowStateful: true })).toEqual({ ok: true, stateful: [{ condition: 'uses 3', name: 'uses', value: 3 }] });
    // Nothing to count when the request is refused anyway.
    expect(evaluate(conds, { operation: 'write' }, { allowStateful: true }).stateful).toEqual([]);
    expect(uses.check(3, {}, { clockSkewMs: 0, allowStateful: true }).ok).toBe(false);
  });
});

describe('evaluate / evaluateAll', () => {
  const ctx: RequestContext = { now: new Date('2026-06-01T00:00:00Z'), operation: 'read', resource: '/docs/a.md', method: 'GET', audience: 'svc' };

  it('reports every condition without short-circuit, with the right codes', () => {
    const conds = ['ops write', 'bogus x', 'time-before 2026-02-30T00:00:00Z', 'aud svc', 'ops', 'Ops read', 'ops read,,write'];
    const r = evaluate(conds, ctx);
    expect(r.ok).toBe(false);
    expect(r.results.map((x) => [x.ok, x.code])).toEqual([
      [false, 'ERR_CAVEAT_FAILED'], [false, 'ERR_CAVEAT_UNKNOWN'], [false, 'ERR_CAVEAT_MALFORMED'], [true, undefined],
      [false, 'ERR_CAVEAT_MALFORMED'], [false, 'ERR_CAVEAT_UNKNOWN'], [false, 'ERR_CAVEAT_MALFORMED'],
    ]);
    expect(r.results[2]?.reason).toBe('no such date');
  });

  it('evaluateAll returns the first failure', () => {
    expect(evaluateAll(['aud svc', 'ops write', 'bogus'], ctx)).toEqual({
      ok: false,
      failure: { condition: 'ops write', ok: false, code: 'ERR_CAVEAT_FAILED', reason: 'operation "read" not allowed' },
    });
    expect(evaluateAll([], ctx)).toEqual({ ok: true, stateful: [] });
    expect(evaluate([], ctx).ok).toBe(true);
  });

  it('fails closed on non-string conditions and refuses a missing context', () => {
    expect(evaluate([42 as unknown as string], ctx).results[0]?.code).toBe('ERR_CAVEAT_MALFORMED');
    expect(codeOf(() => evaluate(['ops read'], null as unknown as RequestContext))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => evaluate('ops read' as unknown as string[], ctx))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('fails every standard caveat closed against an empty context', () => {
    const all = [
      caveat.timeBefore(new Date('9999-12-31T00:00:00Z')), caveat.timeAfter(new Date(0)), caveat.ops(['read']), caveat.resource('/**'),
      caveat.method(['GET']), caveat.aud('svc'), caveat.clientIp(['::/0', '0.0.0.0/0']), caveat.tool(['search']),
      caveat.declared('user', 'alice'), caveat.uses(1),
    ];
    expect(all.map((c) => parseCondition(c).name).sort()).toEqual(defaultRegistry.names().slice().sort());
    expect(evaluate(all, {}, { allowStateful: true }).results.filter((r) => r.ok).map((r) => r.condition)).toEqual(['uses 1']);
  });

});

describe('registry', () => {
  const tenant: CaveatType<string> = {
    name: 'tenant',
    parse(arg) {
      if (!/^[a-z]+$/.test(arg)) throw new Error('bad tenant');
      return arg;
    },
    format: (v) => v,
    check: (v, ctx) => (ctx['tenant'] === v ? { ok: true } : { ok: false, reason: 'wrong tenant' }),
  };

  it('holds exactly the standard table and is frozen', () => {
    expect(defaultRegistry.names()).toEqual(STANDARD_CAVEATS.map((t) => t.name));
    expect(defaultRegistry.names()).toEqual(['time-before', 'time-after', 'ops', 'resource', 'method', 'aud', 'client-ip', 'tool', 'declared', 'uses']);
    expect(codeOf(() => defaultRegistry.register(tenant))).toBe('ERR_INVALID_ARGUMENT');
    expect(defaultRegistry.resolve('ops')).toBe(ops);
    expect(codeOf(() => defaultRegistry.resolve('tenant'))).toBe('ERR_CAVEAT_UNKNOWN');
  });

  it('registers application caveats and rejects duplicates and bad types', () => {
    const registry = createRegistry([tenant]);
    expect(evaluate(['tenant acme'], { tenant: 'acme' }, {}, registry).ok).toBe(true);
    expect(evaluate(['tenant acme'], { tenant: 'other' }, {}, registry).results[0]?.reason).toBe('wrong tenant');
    expect(evaluate(['tenant acme'], { tenant: 'acme' }).results[0]?.code).toBe('ERR_CAVEAT_UNKNOWN');
    expect(evaluate(['tenant ACME'], {}, {}, registry).results[0]).toMatchObject({ code: 'ERR_CAVEAT_MALFORMED', reason: 'argument does not parse' });
    expect(codeOf(() => registry.register(tenant))).toBe('ERR_CONFLICT');
    expect(codeOf(() => createRegistry([{ ...tenant, name: 'ops' }]))).toBe('ERR_CONFLICT');
    expect(codeOf(() => registry.register({ ...tenant, name: 'bad name' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => registry.register({ name: 'half' } as unknown as CaveatType<string>))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('forgets cached "unknown" verdicts when a type is registered', () => {
    const registry = new CaveatRegistry([]);
    expect(evaluate(['tenant acme'], { tenant: 'acme' }, {}, registry).results[0]?.code).toBe('ERR_CAVEAT_UNKNOWN');
    registry.register(tenant);
    expect(evaluate(['tenant acme'], { tenant: 'acme' }, {}, registry).ok).toBe(true);
  });

  it('fails closed when an application check throws or answers nonsense', () => {
    const throwing: CaveatType<string> = { ...tenant, name: 'boom', check: () => { throw new Error('secret detail'); } };
    const sloppy = { ...tenant, name: 'sloppy', check: () => ({ ok: 'yes' }) } as unknown as CaveatType<string>;
    const registry = createRegistry([throwing, sloppy]);
    expect(evaluate(['boom a'], {}, {}, registry).results[0]).toEqual({ condition: 'boom a', ok: false, code: 'ERR_CAVEAT_FAILED', reason: 'caveat check failed with an error' });
    expect(evaluate(['sloppy a'], {}, {}, registry).results[0]?.code).toBe('ERR_CAVEAT_FAILED');
  });

  it('caches parses in a bounded LRU', () => {
    let parses = 0;
    const counted: CaveatType<string> = { ...tenant, name: 'x', parse: (arg) => (parses++, arg) };
    const registry = new CaveatRegistry([counted], { cacheSize: 2 });
    for (const c of ['x a', 'x b', 'x a', 'x c', 'x a', 'x b']) registry.parse(c);
    // a, b parsed; a hit (refreshed); c evicts b; a hit; b parsed again.
    expect(parses).toBe(4);
    expect(registry.parse('x a')).toBe(registry.parse('x a'));
    expect(codeOf(() => new CaveatRegistry([], { cacheSize: -1 }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('builders', () => {
  it('build canonical condition text', () => {
    expect(caveat.timeBefore(new Date('2026-01-01T00:00:00+01:00'))).toBe('time-before 2025-12-31T23:00:00.000Z');
    expect(caveat.timeAfter(new Date(0))).toBe('time-after 1970-01-01T00:00:00.000Z');
    expect(caveat.ops(['write', 'read'])).toBe('ops read,write');
    expect(caveat.resource('/docs/**')).toBe('resource /docs/**');
    expect(caveat.method(['POST', 'GET'])).toBe('method GET,POST');
    expect(caveat.aud('svc')).toBe('aud svc');
    expect(caveat.clientIp(['10.0.0.0/8', '2001:DB8::/32'])).toBe('client-ip 10.0.0.0/8,2001:db8::/32');
    expect(caveat.tool(['search', 'read_file'])).toBe('tool read_file,search');
    expect(caveat.declared('user', 'alice smith')).toBe('declared user alice smith');
    expect(caveat.uses(1)).toBe('uses 1');
  });

  it('refuse any value that would change meaning', () => {
    const attempts: (() => string)[] = [
      () => caveat.ops(['read,write']), () => caveat.ops(['read write']), () => caveat.ops([]), () => caveat.ops(['a\n']),
      () => caveat.ops(['read', 'read']), () => caveat.ops('read' as unknown as string[]), () => caveat.ops([''] ),
      () => caveat.method(['get']), () => caveat.method(['GET,POST']), () => caveat.aud('svc x'), () => caveat.aud(''),
      () => caveat.resource('/a/../b'), () => caveat.resource('/a,b'), () => caveat.resource(42 as unknown as string),
      () => caveat.clientIp(['10.0.0.0/8,0.0.0.0/0']), () => caveat.clientIp(['10.0.0.0/8 0.0.0.0/0']), () => caveat.clientIp([]),
      () => caveat.clientIp(['10.0.0.0/33']), () => caveat.clientIp([7 as unknown as string]), () => caveat.tool(['search\u0000']),
      () => caveat.tool(['a', 'b,c']), () => caveat.declared('us er', 'x'), () => caveat.declared('user', 'a\nb'),
      () => caveat.declared('user', ''), () => caveat.declared('user', ' alice'), () => caveat.declared('user', 'x'.repeat(5000)),
      () => caveat.uses(0), () => caveat.uses(1.5), () => caveat.uses(Number.NaN), () => caveat.uses(1e9 + 1),
      () => caveat.timeBefore(new Date(Number.NaN)), () => caveat.timeBefore(new Date(Date.UTC(10000, 0, 1))),
      () => caveat.timeAfter('2026-01-01' as unknown as Date),
    ];
    for (const attempt of attempts) expect([attempt.toString(), codeOf(attempt)]).toEqual([attempt.toString(), 'ERR_INVALID_ARGUMENT']);
  });

  it('builders agree with the format of every standard type', () => {
    expect(caveat.ops(['read'])).toBe(`ops ${ops.format(['read'])}`);
    expect(caveat.aud('svc')).toBe(`aud ${aud.format('svc')}`);
    expect(caveat.declared('k', 'v')).toBe(`declared ${declared.format({ key: 'k', value: 'v' })}`);
  });
});
