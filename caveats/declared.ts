/**
 * `declared <key> <value>`: a fact the token asserts (bakery-compatible), e.g. `declared user
 * alice`. The value is everything after the first space of the argument. The verifier gathers
 * the facts of the token and its discharges with `collectDeclared` (conflicting values for one
 * key fail) and passes them as `ctx.declared`; the check then passes only when that map holds
 * the same value for the key. No map in the context: fails closed.
 */
import { TesseraError, invalidArgument } from '../src/errors.js';
import { OK, TOKEN, fail, malformedArg, formatGuard, parseGuard, tokenProblem, unsafeTextProblem } from './common.js';
import { parseCondition } from './condition.js';
import type { CaveatType } from './types.js';

export interface Declaration {
  readonly key: string;
  readonly value: string;
}

function problem(d: Declaration): string | undefined {
  if (typeof d !== 'object' || d === null) return 'expected { key, value }';
  const keyProblem = tokenProblem(d.key, TOKEN, 'declared key');
  if (keyProblem) return keyProblem;
  if (typeof d.value !== 'string' || d.value === '') return 'declared value must be a non-empty string';
  if (d.value.startsWith(' ') || d.value.endsWith(' ')) return 'declared value has leading or trailing space';
  return unsafeTextProblem(d.value);
}

export const declared: CaveatType<Declaration> = {
  name: 'declared',
  parse(arg) {
    const space = arg.indexOf(' ');
    if (space < 0) throw malformedArg('declared caveat has no value');
    const d = Object.freeze({ key: arg.slice(0, space), value: arg.slice(space + 1) });
    parseGuard(problem(d));
    return d;
  },
  format: (d) => (formatGuard(problem(d)), `${d.key} ${d.value}`),
  check(d, ctx) {
    const facts = ctx.declared;
    if (typeof facts?.get !== 'function') return fail('request has no declared facts');
    return facts.get(d.key) === d.value ? OK : fail(`declared ${d.key} does not match the collected facts`);
  },
};

/** A Map that refuses changes once built, so collected facts cannot be altered downstream. */
class FrozenMap<K, V> extends Map<K, V> {
  #sealed = false;
  constructor(entries: Iterable<readonly [K, V]>) {
    super(); // Map's constructor would call set() before #sealed exists
    for (const [k, v] of entries) super.set(k, v);
    this.#sealed = true;
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (this.#sealed) throw invalidArgument('declared facts are read-only');
    return super.set(key, value);
  }
  override delete(): boolean {
    throw invalidArgument('declared facts are read-only');
  }
  override clear(): void {
    throw invalidArgument('declared facts are read-only');
  }
}

/**
 * The facts declared by `conditions` (pass the primary's and every discharge's first-party
 * conditions together). Throws ERR_CAVEAT_MALFORMED for a malformed `declared` caveat and
 * ERR_CAVEAT_FAILED when one key is declared with two different values. Other conditions are
 * ignored here (evaluate judges them).
 */
export function collectDeclared(conditions: readonly string[]): ReadonlyMap<string, string> {
  const facts = new Map<string, string>();
  for (const text of conditions) {
    if (typeof text !== 'string' || !(text === declared.name || text.startsWith(`${declared.name} `))) continue;
    const { key, value } = declared.parse(parseCondition(text).arg);
    const seen = facts.get(key);
    if (seen !== undefined && seen !== value) {
      const reason = `conflicting declared values for ${key}`;
      throw new TesseraError('ERR_CAVEAT_FAILED', `caveat not satisfied: ${reason}`, { caveat: text, reason });
    }
    facts.set(key, value);
  }
  return new FrozenMap(facts);
}
