/**
 * Strict RFC 3339 timestamps for `time-before` and `time-after`: a full date-time with `T`, an
 * optional fraction of 1–9 digits and `Z` or a `±hh:mm` offset; real calendar dates only; no leap
 * second (JavaScript dates cannot hold one); years 0000–9999 in UTC. The canonical form is
 * `Date.prototype.toISOString()` (UTC, milliseconds).
 */
import { formatGuard, malformedArg } from './common.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const MIN_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Parse a timestamp to epoch milliseconds. Digits beyond milliseconds are rounded in the
 * direction that narrows the caveat: `floor` for an expiry, `ceil` for a not-before.
 */
export function parseRfc3339(text: string, round: 'floor' | 'ceil'): Date {
  const m = RFC3339.exec(text);
  if (!m) throw malformedArg('timestamp must be RFC 3339 (YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm))');
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = m[7] ?? '';
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw malformedArg('no such date');
  if (hour > 23 || minute > 59 || second > 59) throw malformedArg('no such time of day');
  let offsetMin = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) throw malformedArg('invalid UTC offset');
    offsetMin = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  let ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (round === 'ceil' && /[1-9]/.test(fraction.slice(3))) ms += 1;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  const t = date.getTime() - offsetMin * 60_000;
  if (!(t >= MIN_MS && t <= MAX_MS)) throw malformedArg('timestamp outside years 0000–9999 UTC');
  return new Date(t);
}

/** Canonical text for a date: toISOString(). Rejects invalid dates and years outside 0000–9999. */
export function formatRfc3339(value: Date): string {
  formatGuard(
    !(value instanceof Date) || Number.isNaN(value.getTime())
      ? 'expected a valid Date'
      : value.getTime() < MIN_MS || value.getTime() > MAX_MS
        ? 'date outside years 0000–9999 UTC'
        : undefined,
  );
  return value.toISOString();
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
