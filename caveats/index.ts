/**
 * Tessera's first-party caveat language: the one table of standard caveat types, registries
 * that add application caveats, and the evaluator a verifier runs on every request.
 *
 * Evaluation fails closed: an unknown name is ERR_CAVEAT_UNKNOWN, an argument that does not
 * parse is ERR_CAVEAT_MALFORMED, an unsatisfied (or throwing) check is ERR_CAVEAT_FAILED.
 * Stateful caveats (`uses`) fail closed unless `allowStateful` is set, in which case they are
 * handed back in `stateful` for the verifier to count atomically after everything else passed.
 * Parsed conditions are kept in a bounded per-registry LRU so the hot path does not re-parse.
 */
import { TesseraError, invalidArgument, isTesseraError } from '../src/errors.js';
import { Lru } from '../src/util/lru.js';
import { aud } from './aud.js';
import { clientIp } from './client-ip.js';
import { MAX_CONDITION_LENGTH } from './common.js';
import { CAVEAT_NAME, parseCondition } from './condition.js';
import { declared } from './declared.js';
import { method } from './method.js';
import { ops } from './ops.js';
import { resource } from './resource.js';
import { timeAfter } from './time-after.js';
import { timeBefore } from './time-before.js';
import { tool } from './tool.js';
import type { CaveatType, CheckOptions, RequestContext, ResolvedCheckOptions } from './types.js';
import { STATEFUL_REASON, uses } from './uses.js';

export type { CaveatType, CheckOptions, CheckResult, RequestContext, ResolvedCheckOptions } from './types.js';
export type { Condition } from './condition.js';
export type { Cidr } from './client-ip.js';
export type { Declaration } from './declared.js';
export { parseCondition } from './condition.js';
export { collectDeclared } from './declared.js';
export { caveat, buildCondition } from './builders.js';
export { aud, clientIp, declared, method, ops, resource, timeAfter, timeBefore, tool, uses };

/** THE table of standard caveats. */
export const STANDARD_CAVEATS: readonly CaveatType<unknown>[] = Object.freeze([
  timeBefore, timeAfter, ops, resource, method, aud, clientIp, tool, declared, uses,
]);

/** The codes evaluation reports. */
export type CaveatErrorCode = 'ERR_CAVEAT_UNKNOWN' | 'ERR_CAVEAT_MALFORMED' | 'ERR_CAVEAT_FAILED';

/** A condition that parsed: its type and typed value. */
export interface ParsedCaveat {
  readonly condition: string;
  readonly type: CaveatType<unknown>;
  readonly value: unknown;
}

/** A parsed condition as cached, with its success verdict made once instead of per request. */
interface CachedCaveat extends ParsedCaveat {
  readonly passed: ConditionResult;
}

type CacheEntry = CachedCaveat | { readonly code: CaveatErrorCode; readonly reason: string };

const DEFAULT_CACHE_SIZE = 1024;

/** A set of caveat types by name, with a bounded cache of parsed conditions. */
export class CaveatRegistry {
  readonly #types = new Map<string, CaveatType<unknown>>();
  readonly #cache: Lru<CacheEntry> | undefined;
  #frozen = false;

  constructor(types: Iterable<CaveatType<unknown>> = [], options: { readonly cacheSize?: number } = {}) {
    const size = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('cacheSize must be a non-negative integer');
    this.#cache = size > 0 ? new Lru<CacheEntry>(size) : undefined;
    for (const type of types) this.register(type);
  }

  /** Add a caveat type. Throws ERR_CONFLICT for a name already taken, ERR_INVALID_ARGUMENT for a bad type. */
  register<V>(type: CaveatType<V>): this {
    if (this.#frozen) throw invalidArgument('this caveat registry is frozen; use createRegistry([...])');
    const ok = typeof type === 'object' && type !== null && typeof type.name === 'string' && CAVEAT_NAME.test(type.name)
      && typeof type.parse === 'function' && typeof type.format === 'function' && typeof type.check === 'function';
    if (!ok) throw invalidArgument('not a caveat type (name, parse, format, check)');
    if (this.#types.has(type.name)) {
      throw new TesseraError('ERR_CONFLICT', `caveat ${type.name} is already registered`, { field: 'name' });
    }
    this.#types.set(type.name, type as CaveatType<unknown>);
    this.#cache?.clear(); // a cached "unknown" may now be known
    return this;
  }

  /** Refuse further registrations (the shared default registry is frozen). */
  freeze(): this {
    this.#frozen = true;
    return this;
  }

  /** The type registered under `name`; throws ERR_CAVEAT_UNKNOWN. */
  resolve(name: string): CaveatType<unknown> {
    const type = this.#types.get(name);
    if (type === undefined) {
      throw new TesseraError('ERR_CAVEAT_UNKNOWN', 'unknown caveat', { reason: `no caveat named ${JSON.stringify(String(name).slice(0, 64))}` });
    }
    return type;
  }

  /** The registered names. */
  names(): readonly string[] {
    return Object.freeze([...this.#types.keys()]);
  }

  /** Parse condition text to its type and value (cached); throws ERR_CAVEAT_UNKNOWN / ERR_CAVEAT_MALFORMED. */
  parse(condition: string): ParsedCaveat {
    const entry = this.lookup(condition);
    if ('type' in entry) return entry;
    throw new TesseraError(entry.code, entry.code === 'ERR_CAVEAT_UNKNOWN' ? 'unknown caveat' : `malformed caveat: ${entry.reason}`, {
      caveat: condition,
      reason: entry.reason,
    });
  }

  /** @internal The cached parse (or parse failure) of a condition; never throws. */
  lookup(condition: string): CacheEntry {
    if (typeof condition !== 'string') return { code: 'ERR_CAVEAT_MALFORMED', reason: 'condition must be a string' };
    const hit = this.#cache?.get(condition);
    if (hit !== undefined) return hit;
    const entry = this.#parseUncached(condition);
    if (condition.length <= MAX_CONDITION_LENGTH) this.#cache?.set(condition, entry);
    return entry;
  }

  #parseUncached(condition: string): CacheEntry {
    try {
      const { name, arg } = parseCondition(condition);
      const type = this.resolve(name);
      return Object.freeze({ condition, type, value: type.parse(arg), passed: Object.freeze({ condition, ok: true }) });
    } catch (e) {
      const code = isTesseraError(e, 'ERR_CAVEAT_UNKNOWN') ? 'ERR_CAVEAT_UNKNOWN' : 'ERR_CAVEAT_MALFORMED';
      const reason = isTesseraError(e) && typeof e.details.reason === 'string' ? e.details.reason : 'argument does not parse';
      return Object.freeze({ code, reason });
    }
  }
}

/** A registry with the standard caveats plus `extra` application caveats. */
export function createRegistry(extra: Iterable<CaveatType<unknown>> = [], options?: { readonly cacheSize?: number }): CaveatRegistry {
  return new CaveatRegistry([...STANDARD_CAVEATS, ...extra], options);
}

/** The standard caveats only; frozen, so no module can widen what every verifier accepts. */
export const defaultRegistry: CaveatRegistry = createRegistry().freeze();

/** One condition's verdict. `code` and `reason` are present when `ok` is false. */
export interface ConditionResult {
  readonly condition: string;
  readonly ok: boolean;
  readonly code?: CaveatErrorCode;
  readonly reason?: string;
}

/** A stateful caveat the verifier must still enforce (e.g. count a use atomically). */
export interface StatefulCaveat {
  readonly condition: string;
  readonly name: string;
  readonly value: unknown;
}

/** Every condition's verdict; `stateful` lists what the verifier must count, and is empty unless ok. */
export interface Evaluation {
  readonly ok: boolean;
  readonly results: readonly ConditionResult[];
  readonly stateful: readonly StatefulCaveat[];
}

export type EvaluateAllResult =
  | { readonly ok: true; readonly stateful: readonly StatefulCaveat[] }
  | { readonly ok: false; readonly failure: Required<ConditionResult> };

const MAX_CLOCK_SKEW_MS = 300_000;

/** Check options with defaults applied; throws ERR_INVALID_ARGUMENT for an out-of-range skew. */
export function resolveCheckOptions(opts: CheckOptions): ResolvedCheckOptions {
  const clockSkewMs = opts.clockSkewMs ?? 0;
  if (!Number.isSafeInteger(clockSkewMs) || clockSkewMs < 0 || clockSkewMs > MAX_CLOCK_SKEW_MS) {
    throw invalidArgument(`clockSkewMs must be an integer from 0 to ${MAX_CLOCK_SKEW_MS}`, { field: 'clockSkewMs' });
  }
  return { clockSkewMs, allowStateful: opts.allowStateful === true };
}

const failed = (condition: string, code: CaveatErrorCode, reason: string): Required<ConditionResult> =>
  Object.freeze({ condition, ok: false, code, reason });

/** Judge one condition; never throws. */
function judge(
  registry: CaveatRegistry,
  condition: string,
  ctx: RequestContext,
  opts: ResolvedCheckOptions,
  stateful: StatefulCaveat[],
): ConditionResult {
  const parsed = registry.lookup(condition);
  if (!('type' in parsed)) return failed(condition, parsed.code, parsed.reason);
  if (parsed.type.stateful === true) {
    if (!opts.allowStateful) return failed(condition, 'ERR_CAVEAT_FAILED', STATEFUL_REASON);
    stateful.push(Object.freeze({ condition, name: parsed.type.name, value: parsed.value }));
    return parsed.passed;
  }
  try {
    const r = parsed.type.check(parsed.value, ctx, opts);
    if (r?.ok === true) return parsed.passed;
    return failed(condition, 'ERR_CAVEAT_FAILED', typeof r?.reason === 'string' ? r.reason : 'caveat not satisfied');
  } catch {
    return failed(condition, 'ERR_CAVEAT_FAILED', 'caveat check failed with an error');
  }
}

function start(conditions: readonly string[], ctx: RequestContext, opts: CheckOptions): ResolvedCheckOptions {
  if (!Array.isArray(conditions)) throw invalidArgument('conditions must be an array');
  if (typeof ctx !== 'object' || ctx === null) throw invalidArgument('request context must be an object');
  return resolveCheckOptions(opts);
}

/** Evaluate every condition (no short-circuit), for verification reports and `explain`. */
export function evaluate(
  conditions: readonly string[],
  ctx: RequestContext,
  opts: CheckOptions = {},
  registry: CaveatRegistry = defaultRegistry,
): Evaluation {
  const resolved = start(conditions, ctx, opts);
  const stateful: StatefulCaveat[] = [];
  const results = Object.freeze(conditions.map((c) => judge(registry, c, ctx, resolved, stateful)));
  const ok = results.every((r) => r.ok);
  return Object.freeze({ ok, results, stateful: Object.freeze(ok ? stateful : []) });
}

/** Evaluate until the first failure, which it returns; on success, the stateful caveats to count. */
export function evaluateAll(
  conditions: readonly string[],
  ctx: RequestContext,
  opts: CheckOptions = {},
  registry: CaveatRegistry = defaultRegistry,
): EvaluateAllResult {
  const resolved = start(conditions, ctx, opts);
  const stateful: StatefulCaveat[] = [];
  for (const c of conditions) {
    const r = judge(registry, c, ctx, resolved, stateful);
    if (!r.ok) return Object.freeze({ ok: false, failure: r as Required<ConditionResult> });
  }
  return Object.freeze({ ok: true, stateful: Object.freeze(stateful) });
}
