/**
 * A person's approval for one exact MCP tool call.
 *
 * A tool declared with `approval: 'group:ops'` is refused until the caller presents a
 * *challenge* this server minted for that call, discharged by Tessera's discharge service:
 *
 *   challenge = macaroon under the server's own challenge key
 *     time-before <now + ttl>                  short-lived
 *     mcp-call <sha256 of tool + canonical arguments>   bound to this exact call
 *     uses 1                                    single use
 *     third-party: approve group:ops call deploy {"app":"web"}   (the person sees tool and arguments)
 *
 * The call context carries the hash of the call being made, so an approval for {"app":"web"}
 * fails `mcp-call` for {"app":"db"}; `uses 1` (and the discharge's own `uses 1`) make a replay
 * fail. Nothing is remembered between challenge and retry except the use counts.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { TesseraError, invalidArgument } from '../errors.js';
import { base64Decode, base64url } from '../crypto/bytes.js';
import { httpBaseUrl } from '../http/url.js';
import { Macaroon } from '../macaroon/macaroon.js';
import { addDischargeCaveat } from '../client/index.js';
import { approveCondition, checkDischargeCondition, parsePrincipal } from '../tickets/conditions.js';
import { Verifier, type UsageCounter, type Verified } from '../verifier/index.js';
import { caveat, createRegistry, type CaveatType, type CheckResult } from '../../caveats/index.js';

/** Deepest nesting of tool arguments put into an approval condition. */
const MAX_ARGUMENT_DEPTH = 32;
const CHALLENGE_PREFIX = 'mcp-approval:';
const HASH = /^[A-Za-z0-9_-]{43}$/;

/**
 * JSON with object keys sorted at every level and every non-ASCII character escaped, so one
 * call has exactly one spelling (it is hashed) and the approver sees plain ASCII.
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_ARGUMENT_DEPTH) throw badArguments(`arguments nest deeper than ${MAX_ARGUMENT_DEPTH} levels`);
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badArguments('arguments contain a number JSON cannot carry');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${canonicalJson(k, depth + 1)}:${canonicalJson((value as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  throw badArguments('arguments must be JSON values');
}

const badArguments = (message: string): TesseraError => new TesseraError('ERR_INVALID_ARGUMENT', message, { field: 'arguments' });

/** The hash a challenge is bound to: tool name and canonical arguments. */
export function callHash(tool: string, args: unknown): string {
  return base64url(sha256(new TextEncoder().encode(canonicalJson({ arguments: args ?? {}, tool }))));
}

/** `mcp-call <hash>`: the request's `mcpCall` (the hash of the call being made) must equal it. */
export const mcpCall: CaveatType<string> = {
  name: 'mcp-call',
  parse(arg) {
    if (!HASH.test(arg)) throw new TesseraError('ERR_CAVEAT_MALFORMED', 'malformed caveat: mcp-call needs a SHA-256 hash', { reason: 'expected 43 base64url characters' });
    return arg;
  },
  format(value) {
    if (!HASH.test(value)) throw invalidArgument('mcp-call needs a SHA-256 hash (43 base64url characters)');
    return value;
  },
  check(value, ctx): CheckResult {
    if (typeof ctx.mcpCall !== 'string') return { ok: false, reason: 'request is not an MCP tool call' };
    return ctx.mcpCall === value ? { ok: true } : { ok: false, reason: 'the approval was given for another tool call or other arguments' };
  },
};

/** How a tool's approval is asked for. */
export interface ApprovalPolicy {
  /** Who must approve: a user name or `group:<name>`. */
  readonly who: string;
  /** The action shown to the person; default `call <tool> <canonical arguments>`. */
  readonly what?: (tool: string, args: Readonly<Record<string, unknown>>) => string;
}

/** Where approvals come from and how challenges are made. */
export interface ApprovalOptions {
  /** Tessera's discharge service: its base URL and X25519 public key (`fetchDischargerInfo`). */
  readonly discharger: { readonly location: string; readonly publicKey: Uint8Array | string };
  /**
   * 32-byte key challenges are minted with. Default: random per process, which is right for one
   * process; servers behind a load balancer share one (and a shared `usage`).
   */
  readonly challengeKey?: Uint8Array;
  /** How long a challenge (and so the approval) may take, in seconds; default 600. */
  readonly ttlSeconds?: number;
  /**
   * Counts challenge and discharge uses. Default: in memory, entries kept as long as a challenge
   * lives; pass a database-backed one (`usageCounter(store)`) when several processes serve.
   */
  readonly usage?: UsageCounter;
  readonly clock?: () => Date;
  /**
   * Ask for the approval through URL-mode elicitation when the MCP client declared it (the server
   * then requests the discharge itself and shows the client the approval URL; elicitation.ts).
   * Default true.
   */
  readonly urlElicitation?: boolean;
}

/** A refused call's challenge, as sent to the client. */
export interface Challenge {
  readonly challenge: string;
  readonly condition: string;
  readonly location: string;
  readonly expiresAt: string;
}

/**
 * In-memory use counts for challenges. A challenge is dead once its `time-before` passes (the
 * verifier judges every caveat before counting), so a count need live no longer than that.
 */
class ExpiringUsage implements UsageCounter {
  readonly #counts = new Map<string, { n: number; until: number }>();
  constructor(readonly ttlMs: number, readonly maxEntries = 100_000) {}

  async consume(scope: string, limit: number): Promise<boolean> {
    const now = Date.now();
    if (this.#counts.size >= this.maxEntries) {
      for (const [k, v] of this.#counts) if (v.until <= now) this.#counts.delete(k);
      if (this.#counts.size >= this.maxEntries) return false; // full of live challenges: fail closed
    }
    const entry = this.#counts.get(scope) ?? { n: 0, until: now + this.ttlMs };
    if (entry.n >= limit) return false;
    entry.n++;
    this.#counts.set(scope, entry);
    return true;
  }
}

export class Approvals {
  readonly #key: Uint8Array;
  readonly #location: string;
  readonly #publicKey: Uint8Array;
  readonly #ttlMs: number;
  readonly #clock: () => Date;
  readonly verifier: Verifier;

  constructor(options: ApprovalOptions) {
    if (typeof options?.discharger !== 'object' || options.discharger === null) throw invalidArgument('approvals need a discharger { location, publicKey }', { field: 'discharger' });
    const ttl = options.ttlSeconds ?? 600;
    if (!Number.isSafeInteger(ttl) || ttl < 10 || ttl > 86_400) throw invalidArgument('ttlSeconds must be an integer from 10 to 86400', { field: 'ttlSeconds' });
    if (options.challengeKey !== undefined && (!(options.challengeKey instanceof Uint8Array) || options.challengeKey.length !== 32)) {
      throw invalidArgument('challengeKey must be 32 bytes', { field: 'challengeKey' });
    }
    this.#key = options.challengeKey?.slice() ?? randomBytes(32);
    // Checked now, so a wrong setting fails at start-up rather than as every approval's refusal.
    this.#location = httpBaseUrl(options.discharger.location, 'discharger.location', (m) => invalidArgument(m, { field: 'discharger' }));
    const publicKey = options.discharger.publicKey;
    this.#publicKey = typeof publicKey === 'string' ? base64Decode(publicKey, 'discharger.publicKey') : publicKey;
    if (!(this.#publicKey instanceof Uint8Array) || this.#publicKey.length !== 32) throw invalidArgument('discharger.publicKey must be 32 bytes (X25519)', { field: 'discharger' });
    this.#ttlMs = ttl * 1000;
    this.#clock = options.clock ?? (() => new Date());
    const key = this.#key;
    this.verifier = new Verifier({
      rootKeyFor: (id) => (new TextDecoder().decode(id).startsWith(CHALLENGE_PREFIX) ? { raw: key } : undefined),
      caveats: createRegistry([mcpCall as CaveatType<unknown>]),
      usage: options.usage ?? new ExpiringUsage(this.#ttlMs),
      clock: this.#clock,
      cache: false,
    });
  }

  /** How long a challenge lives, ms. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** The condition a person approves for this call; ERR_INVALID_ARGUMENT when the arguments cannot be shown. */
  condition(policy: ApprovalPolicy, tool: string, args: Readonly<Record<string, unknown>>): string {
    const what = policy.what?.(tool, args) ?? `call ${tool} ${canonicalJson(args)}`;
    try {
      return approveCondition(policy.who, what);
    } catch (e) {
      throw new TesseraError('ERR_INVALID_ARGUMENT', 'this call cannot be put before an approver (its arguments are too long or contain unprintable text)', { field: 'arguments', reason: (e as TesseraError).details?.reason ?? 'invalid' });
    }
  }

  /** Mint a challenge for this exact call. */
  challenge(policy: ApprovalPolicy, tool: string, args: Readonly<Record<string, unknown>>, location: string): Challenge {
    const condition = this.condition(policy, tool, args);
    const expires = new Date(this.#clock().getTime() + this.#ttlMs);
    const minted = Macaroon.mint({ rootKey: { raw: this.#key }, identifier: `${CHALLENGE_PREFIX}${base64url(randomBytes(16))}`, location })
      .addFirstPartyCaveat(caveat.timeBefore(expires))
      .addFirstPartyCaveat(`mcp-call ${callHash(tool, args)}`)
      .addFirstPartyCaveat(caveat.uses(1));
    const challenge = addDischargeCaveat(minted, { location: this.#location, publicKey: this.#publicKey, condition });
    return Object.freeze({ challenge: challenge.encode(), condition, location: this.#location, expiresAt: expires.toISOString() });
  }

  /** Verify a presented challenge and its discharges for this call (counts one use). */
  verify(challenge: string, discharges: readonly string[], tool: string, args: unknown): Promise<Verified> {
    return this.verifier.verify(challenge, { discharges, context: { mcpCall: callHash(tool, args) } });
  }
}

/** Validate an approval declaration at configuration time. */
export function approvalPolicy(value: string | ApprovalPolicy, tool: string): ApprovalPolicy {
  const policy = typeof value === 'string' ? { who: value } : value;
  if (typeof policy?.who !== 'string') throw invalidArgument(`tool ${tool}: approval must name who approves`, { field: 'approval' });
  try {
    parsePrincipal(policy.who);
    checkDischargeCondition(`approve ${policy.who} call ${tool}`);
  } catch (e) {
    throw invalidArgument(`tool ${tool}: approval ${JSON.stringify(policy.who.slice(0, 64))} is not a user or group:<name>`, { field: 'approval', cause: (e as Error).message });
  }
  if (policy.what !== undefined && typeof policy.what !== 'function') throw invalidArgument(`tool ${tool}: approval.what must be a function`, { field: 'approval' });
  return Object.freeze({ ...policy });
}
