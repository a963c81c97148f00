/**
 * Small helpers the caveat modules share: results, errors, safe-text and token checks, and the
 * comma-list grammar used by `ops`, `method`, `tool` and `client-ip`.
 *
 * Validators return a problem (a reason string) or undefined, so the same rule can reject
 * condition text (ERR_CAVEAT_MALFORMED) and builder input (ERR_INVALID_ARGUMENT).
 */
import { TesseraError, invalidArgument, isTesseraError } from '../src/errors.js';
import type { CaveatType, CheckResult, RequestContext } from './types.js';

export const OK: CheckResult = Object.freeze({ ok: true });

export const fail = (reason: string): CheckResult => Object.freeze({ ok: false, reason });

/** The error a caveat's `parse` throws. */
export const malformedArg = (reason: string): TesseraError =>
  new TesseraError('ERR_CAVEAT_MALFORMED', `malformed caveat: ${reason}`, { reason });

/** Throw ERR_CAVEAT_MALFORMED when there is a problem. */
export function parseGuard(problem: string | undefined): void {
  if (problem !== undefined) throw malformedArg(problem);
}

/** Throw ERR_INVALID_ARGUMENT when there is a problem. */
export function formatGuard(problem: string | undefined): void {
  if (problem !== undefined) throw invalidArgument(`invalid caveat value: ${problem}`, { reason: problem });
}

/** Run a parse on a value given by a program: its ERR_CAVEAT_MALFORMED becomes ERR_INVALID_ARGUMENT. */
export function asInvalidArgument<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!isTesseraError(e, 'ERR_CAVEAT_MALFORMED')) throw e;
    const reason = String(e.details.reason ?? e.message);
    throw invalidArgument(`invalid caveat value: ${reason}`, { reason });
  }
}

/** Longest condition text accepted, in UTF-16 code units. */
export const MAX_CONDITION_LENGTH = 4096;
/** Most items in one comma list. */
const MAX_LIST_ITEMS = 64;

/**
 * Characters never allowed in caveat text: control characters (C0, DEL, C1), format characters
 * (bidi overrides, zero-width), lone surrogates (not UTF-8), private use, and every separator
 * except U+0020.
 */
const UNSAFE_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;

/** Why `text` is not acceptable caveat text, or undefined. */
export function unsafeTextProblem(text: string): string | undefined {
  if (text.length > MAX_CONDITION_LENGTH) return `longer than ${MAX_CONDITION_LENGTH} characters`;
  if (UNSAFE_TEXT.test(text)) return 'contains a control, format or non-ASCII space character';
  return undefined;
}

/** ASCII identifiers used for operations, tool names and declared keys. */
export const TOKEN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

/** Why `item` is not a TOKEN-like value under `re`, or undefined. */
export function tokenProblem(item: unknown, re: RegExp, what: string): string | undefined {
  if (typeof item !== 'string') return `${what} must be a string`;
  if (item === '') return `empty ${what}`;
  if (!re.test(item)) return `invalid ${what} ${JSON.stringify(item.slice(0, 64))}`;
  return undefined;
}

/**
 * Parse `a,b,c`: at least one item, at most MAX_LIST_ITEMS, no empty items, no duplicates. Each
 * item is parsed by `item` (which throws ERR_CAVEAT_MALFORMED). Canonical order is sorted.
 */
export function parseList<T>(arg: string, item: (text: string) => T, key: (v: T) => string): readonly T[] {
  if (arg === '') throw malformedArg('empty list');
  const parts = arg.split(',');
  if (parts.length > MAX_LIST_ITEMS) throw malformedArg(`more than ${MAX_LIST_ITEMS} items`);
  const values = parts.map((p) => {
    if (p === '') throw malformedArg('empty list item');
    return item(p);
  });
  return sortUnique(values, key, malformedArg);
}

/** Canonical list text: items formatted, sorted, joined with commas. Validates like parseList. */
export function formatList<T>(values: readonly T[], item: (v: T) => string): string {
  if (!Array.isArray(values)) throw invalidArgument('invalid caveat value: expected a list');
  if (values.length === 0) throw invalidArgument('invalid caveat value: empty list', { reason: 'empty list' });
  if (values.length > MAX_LIST_ITEMS) throw invalidArgument(`invalid caveat value: more than ${MAX_LIST_ITEMS} items`);
  return sortUnique(values.map(item), (s) => s, invalidArgument).join(',');
}

function sortUnique<T>(values: readonly T[], key: (v: T) => string, error: (m: string) => TesseraError): readonly T[] {
  const sorted = [...values].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (key(sorted[i - 1] as T) === key(sorted[i] as T)) throw error(`duplicate list item ${JSON.stringify(key(sorted[i] as T))}`);
  }
  return Object.freeze(sorted);
}

/** The caveat type for a comma list of tokens (`ops`, `method`, `tool`) matched against one context field. */
export function tokenListCaveat(
  name: string,
  field: 'operation' | 'method' | 'tool',
  re: RegExp,
  what: string,
): CaveatType<readonly string[]> {
  const item = (t: string): string => (parseGuard(tokenProblem(t, re, what)), t);
  return {
    name,
    parse: (arg: string): readonly string[] => parseList(arg, item, (s) => s),
    format: (value: readonly string[]): string =>
      formatList(value, (v) => (formatGuard(tokenProblem(v, re, what)), v)),
    check(value: readonly string[], ctx: RequestContext): CheckResult {
      const actual = ctx[field];
      if (typeof actual !== 'string') return fail(`request has no ${what}`);
      return value.includes(actual) ? OK : fail(`${what} ${JSON.stringify(actual.slice(0, 64))} not allowed`);
    },
  };
}
