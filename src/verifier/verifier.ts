/**
 * The Verifier: decides, on every request, whether a token and its discharges grant it.
 *
 * Order matters and is fixed: decode strictly; find the root key; recompute every HMAC chain
 * (or reuse a cached proof of it); refuse revoked identifiers; collect `declared` facts; then
 * evaluate every first-party caveat of the primary and of each discharge against the request,
 * failing closed; and last, count usage-limited caveats atomically. Nothing a caveat says is
 * believed before its chain verifies.
 */
import { TesseraError, invalidArgument, isTesseraError, type ErrorCode } from '../errors.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { constantTimeEqual, utf8Strict } from '../crypto/bytes.js';
import { deriveKey, type KeyInput } from '../crypto/keys.js';
import { Macaroon } from '../macaroon/macaroon.js';
import { resolveLimits, type Limits } from '../macaroon/limits.js';
import { conditionAnchor, verifySignature, type VerifiedMacaroon, type VerifySignatureOptions } from '../macaroon/verify.js';
import {
  collectDeclared,
  defaultRegistry,
  evaluate,
  evaluateAll,
  resolveCheckOptions,
  type CaveatRegistry,
  type ConditionResult,
  type RequestContext,
} from '../../caveats/index.js';
import { Lru } from '../util/lru.js';
import { MemoryUsageCounter, type UsageCounter } from './usage.js';

export type { UsageCounter } from './usage.js';

export type TokenInput = Macaroon | string;

/** Where revoked identifiers are looked up; keep it in memory so a check costs no round trip. */
export interface RevocationCheck {
  isRevoked(identifier: Uint8Array): boolean | Promise<boolean>;
}

export interface VerifierOptions {
  /**
   * The root key a token's identifier was minted with. Return undefined (or throw
   * ERR_KEY_UNKNOWN / ERR_KEY_RETIRED) when there is none.
   */
  readonly rootKeyFor: (identifier: Uint8Array) => KeyInput | undefined | Promise<KeyInput | undefined>;
  /** Caveat types understood; defaults to the standard set. Anything else fails closed. */
  readonly caveats?: CaveatRegistry;
  /** The time caveats are judged at (default: the system clock). */
  readonly clock?: () => Date;
  /** Tolerated clock skew for time caveats, in ms (0 to 300 000; default 0). */
  readonly clockSkewMs?: number;
  /** This service's name, for `aud` caveats, unless the request context says otherwise. */
  readonly audience?: string;
  readonly revocations?: RevocationCheck;
  /**
   * Where `uses n` caveats are counted. Default: a bounded counter in this process
   * (MemoryUsageCounter; N processes give up to N uses). Pass a shared one, such as
   * `usageCounter(store)` from `tessera/issuer`, for many processes; `false` refuses every
   * usage-limited token (fails closed).
   */
  readonly usage?: UsageCounter | false;
  /** Cache verified chains (bounded LRU; default 1024 entries). `false` turns it off. */
  readonly cache?: false | { readonly maxEntries?: number };
  readonly limits?: Partial<Limits>;
}

export interface VerifyRequest {
  readonly discharges?: readonly TokenInput[];
  readonly context?: RequestContext;
}

export interface Verified {
  readonly identifier: Uint8Array;
  /** The identifier as text, when it is UTF-8. */
  readonly identifierText: string | undefined;
  /**
   * `declared key value` facts from the token and its discharges. As in the macaroon bakery, a
   * holder can add `declared` caveats (and third-party caveats it discharges itself), so a fact
   * is only as trustworthy as the third-party caveat that requires it: rely on key X only when
   * the token as you issued it carries a third-party caveat whose discharger always declares X
   * (Tessera's discharger declares `approved-by` and `user`); the conflict rule then stops a
   * holder from claiming another value.
   */
  readonly declared: ReadonlyMap<string, string>;
  /** Every first-party condition that was checked, the primary's first. */
  readonly caveats: readonly string[];
}

export interface ExplainedCaveat extends ConditionResult {
  /** 0 for the primary token, 1 for its discharges, and so on. */
  readonly depth: number;
  readonly source: 'token' | 'discharge';
}

export interface Explanation {
  readonly ok: boolean;
  /** Why the token failed before its caveats could be judged, if it did. */
  readonly error?: { readonly code: ErrorCode; readonly message: string };
  readonly identifierText?: string;
  readonly caveats: readonly ExplainedCaveat[];
}

interface Checked {
  readonly proof: ChainProof;
  readonly context: RequestContext;
}

/** What a verified chain proves, independent of any request: safe to cache and share. */
interface ChainProof {
  /** The derived root key the chain was verified with; a hit must present the same key. */
  readonly key: Uint8Array;
  /**
   * The root key as given, when it was a string or bytes: the same input derives the same key,
   * so a hit presenting it needs no derivation (one HMAC) to match.
   */
  readonly rootKey?: string | Uint8Array;
  readonly chain: readonly VerifiedMacaroon[];
  readonly identifier: Uint8Array;
  readonly identifierText: string | undefined;
  /** Every first-party condition, the primary's first. */
  readonly conditions: readonly string[];
  /** The `declared` facts, or the error collecting them raised (thrown after revocation). */
  readonly declared: ReadonlyMap<string, string> | TesseraError;
}

function provenFacts(identifier: Uint8Array, rootKey: string | Uint8Array | undefined, key: Uint8Array, chain: readonly VerifiedMacaroon[]): ChainProof {
  const conditions = Object.freeze(chain.flatMap((m) => m.conditions));
  let declared: ReadonlyMap<string, string> | TesseraError;
  try {
    declared = collectDeclared(conditions);
  } catch (e) {
    if (!isTesseraError(e)) throw e;
    declared = e;
  }
  return Object.freeze({ identifier, identifierText: textOrUndefined(identifier), ...(rootKey !== undefined ? { rootKey } : {}), key, chain, conditions, declared });
}

/**
 * Whether `rootKey` is the key `proof` was verified with. The same string or bytes as before
 * derive the same key, so they are compared as given (bytes in constant time) without the
 * derivation's HMAC; `{ raw }` is compared with the derived key; the same key given in another
 * form than before is derived and compared in constant time.
 */
function sameRootKey(rootKey: KeyInput, proof: ChainProof): boolean {
  if (typeof rootKey === 'string') {
    if (rootKey === proof.rootKey) return true;
  } else if (rootKey instanceof Uint8Array) {
    if (proof.rootKey instanceof Uint8Array && constantTimeEqual(rootKey, proof.rootKey)) return true;
  } else if (rootKey?.raw instanceof Uint8Array && constantTimeEqual(rootKey.raw, proof.key)) {
    return true; // `{ raw }` is the derived key itself: compared as is, not copied first
  }
  return constantTimeEqual(deriveKey(rootKey, 'rootKey'), proof.key);
}

const isThenable = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof (value as { then?: unknown } | null | undefined)?.then === 'function';

/** Longest token text (with its discharges) whose verified chain is cached: bounds the cache's memory. */
const MAX_CACHED_CHARS = 8 * 1024;

const cacheKeyPart = (t: TokenInput): string => {
  const s = typeof t === 'string' ? t : t.encode();
  return `${s.length}:${s}`;
};

const textOrUndefined = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8Strict(bytes, 'identifier');
  } catch {
    return undefined;
  }
};

export class Verifier {
  readonly #options: VerifierOptions;
  readonly #registry: CaveatRegistry;
  readonly #limits: Limits;
  readonly #cache: Lru<ChainProof> | undefined;
  readonly #clock: () => Date;
  readonly #usage: UsageCounter | undefined;
  readonly #checkOptions: { readonly clockSkewMs: number; readonly allowStateful: boolean };
  /** Default limits are passed as none: decode and verifySignature would otherwise re-validate a copy per call. */
  readonly #signatureOptions: VerifySignatureOptions;

  constructor(options: VerifierOptions) {
    if (typeof options?.rootKeyFor !== 'function') throw invalidArgument('Verifier needs a rootKeyFor(identifier) function', { field: 'rootKeyFor' });
    this.#options = options;
    this.#registry = options.caveats ?? defaultRegistry;
    this.#limits = resolveLimits(options.limits);
    this.#clock = options.clock ?? (() => new Date());
    const maxEntries = options.cache === false ? 0 : (options.cache?.maxEntries ?? 1024);
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw invalidArgument('cache.maxEntries must be a non-negative integer');
    this.#cache = maxEntries > 0 ? new Lru<ChainProof>(maxEntries) : undefined;
    this.#signatureOptions = options.limits === undefined ? {} : { limits: this.#limits };
    if (options.usage !== undefined && options.usage !== false && typeof options.usage?.consume !== 'function') {
      throw invalidArgument('usage must be a UsageCounter (consume) or false', { field: 'usage' });
    }
    this.#usage = options.usage === false ? undefined : (options.usage ?? new MemoryUsageCounter({ clock: this.#clock }));
    // Validated here, so a bad setting fails at construction rather than on every request.
    this.#checkOptions = Object.freeze(resolveCheckOptions({ clockSkewMs: options.clockSkewMs ?? 0, allowStateful: this.#usage !== undefined }));
  }

  /**
   * Verify a token for one request. Resolves with what it proved, or rejects with a
   * TesseraError whose code says why (caveat failures carry the caveat and reason as details).
   */
  async verify(token: TokenInput, request: VerifyRequest = {}): Promise<Verified> {
    const { proof, context } = await this.#check(token, request);
    let stateful = false;
    for (const m of proof.chain) {
      const result = evaluateAll(m.conditions, context, this.#checkOptions, this.#registry);
      if (!result.ok) throw caveatError(result.failure);
      if (result.stateful.length > 0) stateful = true;
    }
    // Only a usage-limited caveat (reported as stateful above) needs counting.
    if (stateful) await this.#consumeUses(proof.chain);
    return Object.freeze({
      identifier: proof.identifier.slice(),
      identifierText: proof.identifierText,
      declared: context.declared ?? new Map(),
      caveats: proof.conditions,
    });
  }

  /**
   * Judge every caveat without stopping at the first failure, for debugging and the CLI.
   * Usage-limited caveats are reported, never counted.
   */
  async explain(token: TokenInput, request: VerifyRequest = {}): Promise<Explanation> {
    let checked: Checked;
    try {
      checked = await this.#check(token, request);
    } catch (e) {
      if (!isTesseraError(e)) throw e;
      return Object.freeze({ ok: false, error: { code: e.code, message: e.message }, caveats: [] });
    }
    const caveats: ExplainedCaveat[] = [];
    for (const m of checked.proof.chain) {
      const { results } = evaluate(m.conditions, checked.context, { ...this.#checkOptions, allowStateful: true }, this.#registry);
      for (const r of results) caveats.push(Object.freeze({ ...r, depth: m.depth, source: m.discharge ? 'discharge' : 'token' }));
    }
    const identifierText = checked.proof.identifierText;
    return Object.freeze({
      ok: caveats.every((c) => c.ok),
      ...(identifierText !== undefined ? { identifierText } : {}),
      caveats: Object.freeze(caveats),
    });
  }

  /** How many verified chains the cache holds (for monitoring and tests). */
  get cachedChains(): number {
    return this.#cache?.size ?? 0;
  }

  /** Forget cached chains (e.g. after a key is retired). Revocations never need this. */
  clearCache(): void {
    this.#cache?.clear();
  }

  /**
   * Everything up to caveat evaluation: decode, key, chain (or cache), revocation, context.
   *
   * On a cache hit the token is not decoded again: the entry remembers the identifier, so the
   * root key is still looked up (and must still be the one the chain was proved with) and
   * revocation still checked on every request; only the HMAC work and what follows purely
   * from the proven conditions (declared facts, identifier text) are reused.
   */
  async #check(token: TokenInput, request: VerifyRequest): Promise<Checked> {
    const discharges = request.discharges ?? [];
    if (!Array.isArray(discharges)) throw invalidArgument('discharges must be an array', { field: 'discharges' });
    if (discharges.length > this.#limits.maxDischarges) throw new TesseraError('ERR_LIMIT', `more than ${this.#limits.maxDischarges} discharges`);
    const cacheKey = this.#cache === undefined ? '' : discharges.length === 0 ? cacheKeyPart(token) : [token, ...discharges].map(cacheKeyPart).join('');
    const hit = this.#cache?.get(cacheKey);
    const primary = hit === undefined ? this.#decode(token) : undefined;
    const identifier = hit?.identifier ?? (primary as Macaroon).identifier;
    const found = this.#options.rootKeyFor(identifier.slice());
    const rootKey = isThenable(found) ? await found : found; // no microtask turn for a synchronous key store
    if (rootKey === undefined) throw new TesseraError('ERR_KEY_UNKNOWN', 'no root key is known for this token');

    let proof: ChainProof;
    if (hit !== undefined && sameRootKey(rootKey, hit)) {
      proof = hit;
    } else {
      const key = deriveKey(rootKey, 'rootKey');
      const chain = verifySignature(primary ?? this.#decode(token), { raw: key }, discharges.map((d) => this.#decode(d)), this.#signatureOptions);
      // A copy of byte keys: the caller may reuse its buffer.
      proof = provenFacts(identifier, typeof rootKey === 'string' ? rootKey : rootKey instanceof Uint8Array ? rootKey.slice() : undefined, key, chain);
      if (cacheKey.length <= MAX_CACHED_CHARS) this.#cache?.set(cacheKey, proof);
    }

    if (this.#options.revocations !== undefined) {
      const checked = this.#options.revocations.isRevoked(proof.identifier.slice());
      if (isThenable(checked) ? await checked : checked) throw new TesseraError('ERR_REVOKED', 'this token has been revoked');
    }
    if (proof.declared instanceof TesseraError) throw proof.declared;
    const context: RequestContext = {
      now: this.#clock(),
      ...(this.#options.audience !== undefined ? { audience: this.#options.audience } : {}),
      ...request.context,
      declared: proof.declared,
    };
    return { proof, context };
  }

  #decode(token: TokenInput): Macaroon {
    if (token instanceof Macaroon) return token;
    if (typeof token !== 'string') throw invalidArgument('a token must be a Macaroon or an encoded string', { field: 'token' });
    return Macaroon.decode(token, this.#signatureOptions.limits);
  }

  /**
   * Count each `uses n` caveat once. The counter is named by the chain signature right after
   * the caveat, hashed: attenuating the token further cannot reset it, and the stored name is
   * not itself a credential. The counter is told when the count can be forgotten: the earliest
   * `time-before` among the conditions up to the caveat, which every holder of that anchor shares.
   */
  async #consumeUses(chain: readonly VerifiedMacaroon[]): Promise<void> {
    for (const m of chain) {
      let until: Date | undefined;
      for (const [i, condition] of m.conditions.entries()) {
        const parsed = this.#registry.parse(condition);
        if (parsed.type.name === 'time-before' && parsed.value instanceof Date && (until === undefined || parsed.value < until)) until = parsed.value;
        if (parsed.type.stateful !== true) continue;
        // Reached only with a usage counter: without one, evaluation already failed `uses` closed.
        const usage = this.#usage as UsageCounter;
        const scope = `uses:${bytesToHex(conditionAnchor(m, i))}`;
        const expires = until === undefined ? undefined : new Date(until.getTime() + this.#checkOptions.clockSkewMs);
        if (!(await usage.consume(scope, parsed.value as number, expires))) {
          throw new TesseraError('ERR_USAGE_EXCEEDED', 'this token has been used as many times as it allows', { caveat: condition, reason: 'usage limit reached' });
        }
      }
    }
  }
}

function caveatError(failure: { readonly condition: string; readonly code?: ErrorCode; readonly reason?: string }): TesseraError {
  const code = failure.code ?? 'ERR_CAVEAT_FAILED';
  const reason = failure.reason ?? 'caveat not satisfied';
  const what = code === 'ERR_CAVEAT_UNKNOWN' ? 'unknown caveat' : code === 'ERR_CAVEAT_MALFORMED' ? 'malformed caveat' : 'caveat not satisfied';
  return new TesseraError(code, `${what}: ${reason}`, { caveat: failure.condition, reason });
}
