/**
 * The conditions Tessera's discharge service understands, i.e. what a third-party caveat's
 * ticket may ask for. Parsing is strict and canonical (one spelling per meaning), because the
 * text is shown to a person who decides on it.
 *
 *   approve <who> <what>   <who> must approve; <what> is the action, shown to them as is.
 *                          The discharge declares `declared approved-by <approver>` (and,
 *                          by default, `uses 1`: one approval authorises one action).
 *   login <who>            the person proves who they are by deciding the request on the
 *                          approval page (logged in as that user); the discharge declares
 *                          `declared user <approver>`. It is an approval of "log in as …".
 *
 *   need-declared <keys> <condition>
 *                          the Go/Python bakery's wrapper: <condition> as above, and the
 *                          discharge declares each of the comma-separated <keys>: the
 *                          approver's name for `approved-by` (approve) or `user` (login), an
 *                          empty value (the bakery's "unknown") for any other key, so the
 *                          holder cannot declare those keys itself.
 *
 *   <who>   a user name, or `group:<name>` for any member of that group
 *   <name>  [a-z0-9][a-z0-9._-]{0,63}
 *   <what>  1..512 characters of text: no control, format (bidi, zero-width) or non-ASCII
 *           space characters, no leading, trailing or doubled spaces
 *
 * Words are separated by exactly one ASCII space. An unknown verb is ERR_CAVEAT_UNKNOWN,
 * anything else that does not fit is ERR_CAVEAT_MALFORMED.
 */
import { TesseraError, invalidArgument, isTesseraError } from '../errors.js';
import { TOKEN, unsafeTextProblem } from '../../caveats/common.js';

/** User and group names. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Longest `<what>`, in characters. */
export const MAX_WHAT_LENGTH = 512;
const GROUP_PREFIX = 'group:';
const NEED_DECLARED = 'need-declared';
/** Most keys one need-declared condition may ask for. */
const MAX_NEED_DECLARED = 16;
/**
 * A requester may send its token's first-party caveats along (shown to the approver as its
 * claim): at most this many, each at most this long, plain text.
 */
export const MAX_CLAIMED_CAVEATS = 32;
export const MAX_CLAIMED_CAVEAT_LENGTH = 256;

/** True when `text` may be sent as a claimed caveat. */
export const isClaimableCaveat = (text: unknown): text is string =>
  typeof text === 'string' && text !== '' && text.length <= MAX_CLAIMED_CAVEAT_LENGTH && unsafeTextProblem(text) === undefined;

/** Who may decide: one named user, or any member of a group. */
export type Principal = { readonly kind: 'user'; readonly name: string } | { readonly kind: 'group'; readonly name: string };

export type DischargeCondition = (
  | { readonly kind: 'approve'; readonly who: string; readonly principal: Principal; readonly what: string }
  | { readonly kind: 'login'; readonly who: string; readonly principal: Principal; readonly what: string }
) & {
  /** Keys a `need-declared` wrapper asks the discharge to declare, in order; absent otherwise. */
  readonly needDeclared?: readonly string[];
};

/** A person deciding on the approval page, as the page's session knows them. */
export interface Approver {
  readonly name: string;
  readonly groups: readonly string[];
}

const malformedCondition = (reason: string): TesseraError =>
  new TesseraError('ERR_CAVEAT_MALFORMED', `malformed third-party condition: ${reason}`, { reason });

/** Parse `<who>`; throws ERR_CAVEAT_MALFORMED. */
export function parsePrincipal(who: string): Principal {
  const group = who.startsWith(GROUP_PREFIX);
  const name = group ? who.slice(GROUP_PREFIX.length) : who;
  if (!NAME_PATTERN.test(name)) {
    throw malformedCondition(`${group ? 'group' : 'user'} name must match ${NAME_PATTERN.source}`);
  }
  return Object.freeze({ kind: group ? 'group' : 'user', name });
}

function whatProblem(what: string): string | undefined {
  if (what === '') return 'the action text is empty';
  if (what.length > MAX_WHAT_LENGTH) return `the action text is longer than ${MAX_WHAT_LENGTH} characters`;
  const unsafe = unsafeTextProblem(what);
  if (unsafe !== undefined) return `the action text ${unsafe}`;
  if (what.startsWith(' ') || what.endsWith(' ') || what.includes('  ')) return 'the action text has leading, trailing or doubled spaces';
  return undefined;
}

/** Parse a ticket's condition. Throws ERR_CAVEAT_UNKNOWN or ERR_CAVEAT_MALFORMED. */
export function parseDischargeCondition(text: string): DischargeCondition {
  if (typeof text !== 'string') throw malformedCondition('condition must be text');
  if (text !== NEED_DECLARED && !text.startsWith(`${NEED_DECLARED} `)) return parsePlainCondition(text);
  // `need-declared <keys> <condition>`, as the bakery's checkers.NeedDeclaredCaveat writes it.
  const rest = text.slice(NEED_DECLARED.length + 1);
  const gap = rest.indexOf(' ');
  if (gap <= 0) throw malformedCondition('expected "need-declared <keys> <condition>"');
  const keys = rest.slice(0, gap).split(',');
  if (keys.length > MAX_NEED_DECLARED) throw malformedCondition(`need-declared asks for more than ${MAX_NEED_DECLARED} keys`);
  if (keys.some((k) => !TOKEN.test(k)) || new Set(keys).size !== keys.length) {
    throw malformedCondition('need-declared keys must be distinct names separated by commas');
  }
  const inner = rest.slice(gap + 1);
  if (inner.startsWith(`${NEED_DECLARED} `)) throw malformedCondition('need-declared cannot be nested');
  return Object.freeze({ ...parsePlainCondition(inner), needDeclared: Object.freeze(keys) });
}

function parsePlainCondition(text: string): DischargeCondition {
  const space = text.indexOf(' ');
  const verb = space < 0 ? text : text.slice(0, space);
  const rest = space < 0 ? '' : text.slice(space + 1);
  switch (verb) {
    case 'approve': {
      const gap = rest.indexOf(' ');
      if (gap <= 0) throw malformedCondition('expected "approve <who> <what>"');
      const who = rest.slice(0, gap);
      const what = rest.slice(gap + 1);
      const principal = parsePrincipal(who);
      const problem = whatProblem(what);
      if (problem !== undefined) throw malformedCondition(problem);
      return Object.freeze({ kind: 'approve', who, principal, what });
    }
    case 'login': {
      if (rest === '' || rest.includes(' ')) throw malformedCondition('expected "login <who>"');
      const principal = parsePrincipal(rest);
      const what = principal.kind === 'user' ? `log in as ${principal.name}` : `log in as a member of group ${principal.name}`;
      return Object.freeze({ kind: 'login', who: rest, principal, what });
    }
    default: {
      // The verb is echoed bounded and only when it is plain ASCII, never the rest of the text.
      const shown = /^[\x21-\x7e]{1,32}$/.test(verb) ? verb : undefined;
      throw new TesseraError('ERR_CAVEAT_UNKNOWN', 'unknown third-party condition: this service understands "approve", "login" and "need-declared"', {
        reason: 'unknown condition',
        ...(shown !== undefined ? { verb: shown } : {}),
      });
    }
  }
}

/** Throw ERR_INVALID_ARGUMENT (with the parser's reason) unless `text` is a valid condition. */
export function checkDischargeCondition(text: string): DischargeCondition {
  try {
    return parseDischargeCondition(text);
  } catch (e) {
    if (!isTesseraError(e)) throw e;
    throw invalidArgument(e.message, { field: 'condition', reason: String(e.details.reason ?? e.message) });
  }
}

/** `approve <who> <what>`, checked. ERR_INVALID_ARGUMENT if it would not parse back. */
export function approveCondition(who: string, what: string): string {
  return checkedText(`approve ${String(who)} ${String(what)}`, 'approve', who, what);
}

/** `login <who>`, checked. */
export function loginCondition(who: string): string {
  return checkedText(`login ${String(who)}`, 'login', who, undefined);
}

function checkedText(text: string, kind: DischargeCondition['kind'], who: string, what: string | undefined): string {
  const parsed = checkDischargeCondition(text);
  // e.g. a `who` containing a space would silently move words into `what`.
  if (parsed.kind !== kind || parsed.who !== who || (what !== undefined && parsed.what !== what)) {
    throw invalidArgument('condition parts do not round-trip', { field: 'condition' });
  }
  return text;
}

/** The `who` values an approver may decide for: their name and `group:<g>` for each group. */
export function principalsOf(approver: Approver): string[] {
  return [approver.name, ...approver.groups.map((g) => `${GROUP_PREFIX}${g}`)];
}

/** True when `approver` is the named user or a member of the named group. */
export function mayDecide(principal: Principal, approver: Approver): boolean {
  return principal.kind === 'user' ? approver.name === principal.name : approver.groups.includes(principal.name);
}
