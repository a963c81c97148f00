/**
 * The one duration syntax of Tessera, wherever a lifetime or a wait is given (HTTP API, CLI,
 * client options): whole seconds as a number or digits (`90`), or digits with one unit
 * (`90s`, `15m`, `2h`, `7d`, `2w`). One parser, so every surface has the same bounds and the
 * same error message.
 */
import { invalidArgument } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const SYNTAX = /^([0-9]{1,12})([smhdw]?)$/;

export interface DurationBounds {
  /** Smallest accepted value in seconds (default 0). */
  readonly min?: number;
  /** Largest accepted value in seconds. */
  readonly max: number;
}

/** The message every surface gives for a bad duration in `field`. */
export const durationMessage = (field: string, { min = 0, max }: DurationBounds): string =>
  `${field} must be a duration from ${formatDuration(min)} to ${formatDuration(max)}: whole seconds, or a number with s, m, h, d or w (90s, 15m, 2h, 7d)`;

/**
 * Seconds from `value` (a number of seconds or duration text), within `bounds`. Anything else
 * (fractions, negative numbers, signs, spaces inside, two units, out of bounds) is refused with
 * ERR_INVALID_ARGUMENT naming `field`.
 */
export function parseDuration(value: unknown, field: string, bounds: DurationBounds): number {
  let seconds: number | undefined;
  if (typeof value === 'number') seconds = Number.isSafeInteger(value) ? value : undefined;
  else if (typeof value === 'string' && value.length <= 20) {
    const m = SYNTAX.exec(value.trim());
    if (m !== null) seconds = Number(m[1]) * (UNITS[m[2] || 's'] as number);
  }
  if (seconds === undefined || !Number.isSafeInteger(seconds) || seconds < (bounds.min ?? 0) || seconds > bounds.max) {
    throw invalidArgument(durationMessage(field, bounds), { field });
  }
  return seconds;
}

/** `seconds` in the largest unit that divides it exactly: 90 -> "90s", 3600 -> "1h". */
export function formatDuration(seconds: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    const size = UNITS[unit] as number;
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
