/**
 * `resource <pattern>`: the request's `resource` path must match one glob pattern (one pattern
 * per caveat; several `resource` caveats intersect).
 *
 * Paths are absolute and split on `/`. In a pattern, `*` matches any run of characters (possibly
 * empty) within one segment, and `**` as a whole segment matches zero or more whole segments
 * (`/docs/**` matches `/docs` and everything below it). There are no other metacharacters: `?`,
 * `[ ] { }`, `,`, spaces, backslashes and non-ASCII are rejected (reserved), as are `**` inside a
 * segment, empty segments (`//`, trailing `/`), `.`/`..` segments, and percent-escapes of `.`, `/`,
 * `\`, `%` or control characters. Patterns and paths are compared as raw (percent-encoded) text.
 *
 * Request paths are normalised before matching: duplicate and trailing slashes collapse; a path
 * that is not absolute or contains a `.`/`..` segment, one of those percent-escapes, a backslash,
 * `?`/`#`, or a control/format character fails (no match is attempted).
 */
import { OK, asInvalidArgument, fail, formatGuard, malformedArg, unsafeTextProblem } from './common.js';
import type { CaveatType } from './types.js';

const MAX_SEGMENTS = 64;
const PATTERN_SEGMENT = /^[A-Za-z0-9\-._~!$&'()+;=:@%*]+$/;
/** Escapes that decode to a path separator, a dot, an escape, or a control character. */
const DANGEROUS_ESCAPE = /%(?:2e|2f|5c|25|[01][0-9a-f]|7f)/i;
const BROKEN_ESCAPE = /%(?![0-9a-f]{2})/i;

function escapeProblem(text: string): string | undefined {
  if (BROKEN_ESCAPE.test(text)) return 'invalid percent-escape';
  if (DANGEROUS_ESCAPE.test(text)) return 'percent-encoded dot, slash, backslash, percent or control character';
  return undefined;
}

function parsePattern(arg: string): readonly string[] {
  if (!arg.startsWith('/')) throw malformedArg('resource pattern must be an absolute path');
  if (arg === '/') return Object.freeze([]);
  const segments = arg.slice(1).split('/');
  if (segments.length > MAX_SEGMENTS) throw malformedArg(`more than ${MAX_SEGMENTS} path segments`);
  for (const seg of segments) {
    if (seg === '') throw malformedArg('empty path segment (duplicate or trailing slash)');
    if (seg === '.' || seg === '..') throw malformedArg('dot segment in resource pattern');
    if (!PATTERN_SEGMENT.test(seg)) throw malformedArg('invalid character in resource pattern');
    if (seg.includes('**') && seg !== '**') throw malformedArg('** must be a whole path segment');
    const escape = escapeProblem(seg);
    if (escape) throw malformedArg(escape);
  }
  return Object.freeze(segments);
}

/** The segments of a request path after normalisation, or the reason it is refused. */
function normalizeRequestPath(path: string): readonly string[] | { readonly problem: string } {
  const refuse = (problem: string) => ({ problem });
  if (!path.startsWith('/')) return refuse('resource is not an absolute path');
  const unsafe = unsafeTextProblem(path);
  if (unsafe) return refuse(`resource ${unsafe}`);
  if (/[\\?#]/.test(path)) return refuse('resource contains a backslash, ? or #');
  const escape = escapeProblem(path);
  if (escape) return refuse(`resource contains an ${escape}`);
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) return refuse('resource contains a dot segment');
  if (segments.length > MAX_SEGMENTS) return refuse('resource has too many segments');
  return segments;
}

/**
 * Wildcard matching where a star element matches any run of subject elements and every other
 * element matches exactly one (by `one`). Greedy with single backtrack point: O(p·s), no blow-up.
 */
function wildcard(pattern: ArrayLike<string>, subject: ArrayLike<string>, star: string, one: (p: string, s: string) => boolean): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < subject.length) {
    const pe = pattern[p];
    if (pe === star) {
      starP = p++;
      starS = s;
    } else if (pe !== undefined && one(pe, subject[s] as string)) {
      p++;
      s++;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (pattern[p] === star) p++;
  return p === pattern.length;
}

const sameChar = (a: string, b: string): boolean => a === b;
const segmentMatches = (pat: string, seg: string): boolean =>
  pat.includes('*') ? wildcard(pat, seg, '*', sameChar) : pat === seg;

/** True when the normalised path segments match the pattern segments. */
function matchResource(pattern: readonly string[], path: readonly string[]): boolean {
  return wildcard(pattern, path, '**', segmentMatches);
}

export const resource: CaveatType<readonly string[]> = {
  name: 'resource',
  parse: parsePattern,
  format(segments) {
    const valid = Array.isArray(segments) && segments.every((s) => typeof s === 'string' && !s.includes('/'));
    formatGuard(valid ? undefined : 'expected a list of path segments');
    const text = `/${segments.join('/')}`;
    asInvalidArgument(() => parsePattern(text));
    return text;
  },
  check(pattern, ctx) {
    if (typeof ctx.resource !== 'string') return fail('request has no resource');
    const path = normalizeRequestPath(ctx.resource);
    if ('problem' in path) return fail(path.problem);
    return matchResource(pattern, path) ? OK : fail('resource not allowed');
  },
};
