/**
 * URL-mode elicitation (MCP 2025-11-25) for calls that need a person's approval, for MCP
 * clients that are not Tessera-aware.
 *
 * A client that declared `capabilities.elicitation.url` in `initialize` (and does not gather
 * discharges itself: `tesseraFetch` says so with the `Tessera-Approvals: discharge` header) is
 * answered a call needing approval with error -32042 (URLElicitationRequired) carrying the
 * approval page's URL, which the client shows to the human running the agent. For that, this
 * server asks Tessera's discharge service for the discharge itself, in the background, keyed by
 * the caller's token and the exact call; when the client retries the same call after the person
 * decided, the discharge is verified against the call as any other and the tool runs once.
 *
 * The state is per process and bounded (a capability seen at `initialize`, a pending approval):
 * behind a load balancer without session affinity a client may land elsewhere and simply get the
 * discharge-required error that Tessera clients handle.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { TesseraError, isTesseraError } from '../errors.js';
import { base64url } from '../crypto/bytes.js';
import { gatherDischarges, type DischargeBundle, type FetchLike } from '../client/index.js';

/** The header `tesseraFetch` sends: it gathers discharges itself, so it wants the challenge. */
export const APPROVALS_MODE_HEADER = 'tessera-approvals';

/** JSON-RPC code of URLElicitationRequiredError (MCP 2025-11-25). */
export const URL_ELICITATION_REQUIRED = -32042;

export interface UrlElicitationOptions {
  /** How long a pending approval is kept, ms (the challenge's lifetime). */
  readonly ttlMs: number;
  /** Most pending approvals in all; default 1000. */
  readonly maxPending?: number;
  /** Most pending approvals per token; default 8. */
  readonly maxPendingPerToken?: number;
  /** Most tokens whose capability is remembered; default 10 000. */
  readonly maxClients?: number;
  /** How long to wait for the discharge service to give the approval URL, ms; default 10 000. */
  readonly startTimeoutMs?: number;
  /**
   * How long a retry waits for a decision still on its way, ms; default 1000 (a client retries
   * when the person says they are done: the discharge is then milliseconds away).
   */
  readonly retryWaitMs?: number;
  readonly fetch?: FetchLike;
}

/** What a call needing approval gets from this module. */
export type ElicitationState =
  | { readonly kind: 'elicit'; readonly elicitationId: string; readonly url: string }
  | { readonly kind: 'approved'; readonly bundle: DischargeBundle }
  | { readonly kind: 'refused'; readonly error: TesseraError };

interface Pending {
  readonly tokenKey: string;
  readonly elicitationId: string;
  readonly expires: number;
  url?: string;
  outcome?: { readonly bundle: DischargeBundle } | { readonly error: TesseraError };
  readonly started: Promise<void>;
  readonly settled: Promise<void>;
}

const keyOf = (token: string): string => base64url(sha256(new TextEncoder().encode(token)));

/** Did this `initialize` declare URL-mode elicitation? */
export function declaresUrlElicitation(params: Readonly<Record<string, unknown>>): boolean {
  const capabilities = params.capabilities;
  if (typeof capabilities !== 'object' || capabilities === null) return false;
  const elicitation = (capabilities as Record<string, unknown>).elicitation;
  return typeof elicitation === 'object' && elicitation !== null && typeof (elicitation as Record<string, unknown>).url === 'object';
}

export class UrlElicitations {
  readonly #options: Required<Omit<UrlElicitationOptions, 'fetch'>> & { readonly fetch?: FetchLike };
  /** Tokens whose client declared URL elicitation, oldest first (a bounded LRU). */
  readonly #clients = new Map<string, true>();
  readonly #pending = new Map<string, Pending>();

  constructor(options: UrlElicitationOptions) {
    this.#options = { maxPending: 1000, maxPendingPerToken: 8, maxClients: 10_000, startTimeoutMs: 10_000, retryWaitMs: 1000, ...options };
  }

  /**
   * Remember whether the client holding `token` handles URL elicitation (told at `initialize`;
   * the latest client to initialize with a token decides for it).
   */
  remember(token: string, declared: boolean): void {
    const key = keyOf(token);
    this.#clients.delete(key);
    if (!declared) return;
    this.#clients.set(key, true);
    if (this.#clients.size > this.#options.maxClients) this.#clients.delete(this.#clients.keys().next().value as string);
  }

  supports(token: string): boolean {
    return this.#clients.has(keyOf(token));
  }

  /**
   * The state of the approval of this call by this token: started now (with `challenge`, the
   * discharge-required macaroon minted for the call) when there is none; undefined when it cannot
   * be started (too many pending, the service unreachable): the caller then answers with the
   * challenge as to any client.
   */
  async state(token: string, callHash: string, challenge: () => string): Promise<ElicitationState | undefined> {
    const now = Date.now();
    for (const [k, p] of this.#pending) if (p.expires <= now) this.#pending.delete(k);
    const tokenKey = keyOf(token);
    const key = `${tokenKey}:${callHash}`;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      const mine = [...this.#pending.values()].filter((p) => p.tokenKey === tokenKey).length;
      if (this.#pending.size >= this.#options.maxPending || mine >= this.#options.maxPendingPerToken) return undefined;
      pending = this.#start(tokenKey, challenge());
      this.#pending.set(key, pending);
      await within(pending.started, this.#options.startTimeoutMs);
    } else {
      await within(pending.settled, this.#options.retryWaitMs);
    }
    const { outcome, url, elicitationId } = pending;
    if (outcome !== undefined) {
      this.#pending.delete(key); // one retry takes the outcome; a later call starts afresh
      return 'bundle' in outcome ? { kind: 'approved', bundle: outcome.bundle } : { kind: 'refused', error: outcome.error };
    }
    if (url === undefined) {
      this.#pending.delete(key);
      return undefined;
    }
    return { kind: 'elicit', elicitationId, url };
  }

  #start(tokenKey: string, challenge: string): Pending {
    let announce!: () => void;
    let settle!: () => void;
    const pending: Pending = {
      tokenKey,
      elicitationId: base64url(randomBytes(16)),
      expires: Date.now() + this.#options.ttlMs,
      started: new Promise<void>((resolve) => (announce = resolve)),
      settled: new Promise<void>((resolve) => (settle = resolve)),
    };
    gatherDischarges(challenge, {
      timeoutMs: this.#options.ttlMs,
      ...(this.#options.fetch !== undefined ? { fetch: this.#options.fetch } : {}),
      onApprovalUrl: (url) => {
        pending.url ??= url;
        announce();
      },
    }).then(
      (bundle) => (pending.outcome = { bundle }),
      (e: unknown) => (pending.outcome = { error: isTesseraError(e) ? e : new TesseraError('ERR_THIRD_PARTY', 'the approval could not be obtained') }),
    ).finally(() => {
      announce();
      settle();
    });
    return pending;
  }
}

/** Wait for `signal`, at most `ms`. */
function within(signal: Promise<void>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([signal, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
