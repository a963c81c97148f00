/**
 * The condition text grammar: `name` or `name argument`, exactly one U+0020 between them, no
 * leading or trailing space, no control/format characters, bounded length.
 */
import { malformedArg, parseGuard, unsafeTextProblem } from './common.js';

/** A condition split into its name and its (still unparsed) argument text. */
export interface Condition {
  readonly name: string;
  readonly arg: string;
}

/** Caveat names: an ASCII letter, then letters, digits, `_ . : -`; at most 64 characters. */
export const CAVEAT_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** Split condition text strictly; throws ERR_CAVEAT_MALFORMED with a reason. */
export function parseCondition(text: string): Condition {
  if (typeof text !== 'string') throw malformedArg('condition must be a string');
  parseGuard(unsafeTextProblem(text));
  const space = text.indexOf(' ');
  const name = space < 0 ? text : text.slice(0, space);
  const arg = space < 0 ? '' : text.slice(space + 1);
  if (name === '') throw malformedArg('empty caveat name');
  if (!CAVEAT_NAME.test(name)) throw malformedArg(`invalid caveat name ${JSON.stringify(name.slice(0, 64))}`);
  if (space >= 0 && (arg === '' || arg.startsWith(' ') || arg.endsWith(' '))) {
    throw malformedArg('non-canonical spacing');
  }
  return Object.freeze({ name, arg });
}
