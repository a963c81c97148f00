/** The one duration syntax (src/util/duration.ts): every accepted form, every refusal, one message. */
import { describe, expect, it } from 'vitest';
import { parseDuration as parseCliDuration } from '../src/cli/io.js';
import { durationMessage, formatDuration, parseDuration } from '../src/util/duration.js';
import { expectCode } from './support/expect-code.js';

const bounds = { min: 1, max: 30 * 86_400 };

describe('parseDuration', () => {
  it('reads whole seconds and one unit', async () => {
    const cases: [unknown, number][] = [
      [90, 90], ['90', 90], ['90s', 90], ['15m', 900], ['2h', 7200], ['7d', 604_800], ['2w', 1_209_600], [' 5m ', 300], ['1', 1], [30 * 86_400, 30 * 86_400],
    ];
    for (const [value, seconds] of cases) expect(parseDuration(value, 'ttl', bounds), String(value)).toBe(seconds);
  });

  it('refuses everything else with ERR_INVALID_ARGUMENT, one message naming the field and the bounds', async () => {
    const bad: unknown[] = ['', '1.5h', '-5', -5, 1.5, '1h30m', '15 m', '+5', '5M', 'forever', '0x10', '1e3', NaN, Infinity, null, true, {}, ['5'], '9'.repeat(30), 0, '0s', '31d', 30 * 86_400 + 1];
    for (const value of bad) {
      const e = await expectCode(() => parseDuration(value, 'ttl', bounds), 'ERR_INVALID_ARGUMENT');
      expect(e.message).toBe(durationMessage('ttl', bounds));
      expect(e.details.field).toBe('ttl');
    }
    expect(durationMessage('ttl', bounds)).toBe('ttl must be a duration from 1s to 30d: whole seconds, or a number with s, m, h, d or w (90s, 15m, 2h, 7d)');
  });

  it('the CLI gives the same message as a usage error on its option', async () => {
    expect(parseCliDuration('2h', 'ttl', bounds)).toBe(7200);
    const e = await expectCode(() => parseCliDuration('two hours', 'ttl', bounds), 'ERR_INVALID_ARGUMENT');
    expect(e.name).toBe('UsageError');
    expect(e.message).toBe(durationMessage('--ttl', bounds));
  });

  it('formats in the largest exact unit', async () => {
    expect([0, 59, 60, 90, 3600, 86_400, 604_800, 1_209_600, 86_401].map(formatDuration)).toEqual(['0s', '59s', '1m', '90s', '1h', '1d', '1w', '2w', '86401s']);
  });
});
