/**
 * The webhook delivery worker: takes due outbox rows (see ../storage/webhooks.ts), sends each
 * (./deliver.ts) without waiting for the others, records every attempt, and retries failures
 * with exponential backoff and jitter. Retry times live in the outbox, so a restart resumes
 * them; a row taken by a worker that died is taken again once its lease ends (duplicates carry
 * the same `webhook-id`). It wakes at once when this process queues events, when another
 * instance does (LISTEN/NOTIFY), when a delivery ends, and otherwise every `pollMs`. It also
 * announces expired requests every `expirySweepMs`.
 */
import type { Logger } from '../log.js';
import type { ClaimedDelivery, Database, DeliveryOutcome, Store } from '../storage/index.js';
import { loadSigner, send } from './deliver.js';

export interface WebhookWorkerOptions {
  /** Per-attempt timeout (default 5000 ms). */
  readonly timeoutMs?: number;
  /** First retry delay (default 1000 ms), doubled per attempt up to `retryMaxMs`, with jitter. */
  readonly retryBaseMs?: number;
  /** Longest retry delay (default 10 minutes). */
  readonly retryMaxMs?: number;
  /** Give an event up (status `failed`) once it is this old (default 3 days). */
  readonly giveUpAfterMs?: number;
  /** Most deliveries in flight in this process (default 32). */
  readonly maxInFlight?: number;
  /** Most deliveries in flight to one endpoint, across instances (default 4). */
  readonly perEndpoint?: number;
  /** Re-read the outbox at least this often (default 1000 ms): the fallback for a lost NOTIFY. */
  readonly pollMs?: number;
  /** Announce expired requests this often (default 5000 ms). */
  readonly expirySweepMs?: number;
}

export interface WebhookWorkerDeps {
  readonly store: Store;
  readonly database: Database;
  readonly log: Logger;
  /** Marks expired requests and queues their events (the discharge service's `announceExpired`). */
  readonly announceExpired: () => Promise<number>;
  readonly clock?: () => Date;
}

const DEFAULTS = {
  timeoutMs: 5000,
  retryBaseMs: 1000,
  retryMaxMs: 10 * 60_000,
  giveUpAfterMs: 3 * 86_400_000,
  maxInFlight: 32,
  perEndpoint: 4,
  pollMs: 1000,
  expirySweepMs: 5000,
} as const;

/** The delay before attempt `attempts + 1`: exponential, capped, with up to half of it as jitter. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

export class WebhookWorker {
  readonly #deps: WebhookWorkerDeps;
  readonly #o: Required<WebhookWorkerOptions>;
  readonly #clock: () => Date;
  readonly #abort = new AbortController();
  readonly #inFlight = new Map<number, Promise<void>>();
  #woken = false;
  #wakeSleeper: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #unlisten: () => Promise<void> = async () => undefined;
  #stopped = false;
  #timer: { readonly at: number; readonly handle: ReturnType<typeof setTimeout> } | undefined;

  constructor(deps: WebhookWorkerDeps, options: WebhookWorkerOptions = {}) {
    this.#deps = deps;
    this.#o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<WebhookWorkerOptions>;
    this.#clock = deps.clock ?? (() => new Date());
  }

  /** Listen for other instances' events and start delivering. */
  async start(): Promise<void> {
    this.#unlisten = await this.#deps.database.listenWebhooks(() => this.wake(), { onReconnect: () => this.wake() });
    this.#sweep = setInterval(() => void this.#announceExpired(), this.#o.expirySweepMs);
    this.#sweep.unref?.();
    this.#loop = this.#run();
  }

  /** Look at the outbox now (events were queued, or a delivery ended). */
  wake(): void {
    this.#woken = true;
    this.#wakeSleeper?.();
  }

  /** Stop: no new claims, in-flight attempts aborted and their rows given back unattempted. */
  async close(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    if (this.#timer !== undefined) clearTimeout(this.#timer.handle);
    this.#abort.abort();
    this.wake();
    await this.#loop;
    await Promise.all(this.#inFlight.values());
    await this.#unlisten().catch(() => undefined);
  }

  /** Wake at `at` (a retry falling due), unless an earlier wake-up is already set. */
  #wakeAt(at: Date): void {
    const when = at.getTime();
    if (this.#stopped || (this.#timer !== undefined && this.#timer.at <= when)) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer.handle);
    const handle = setTimeout(() => {
      this.#timer = undefined;
      this.wake();
    }, Math.max(0, when - Date.now()));
    handle.unref?.();
    this.#timer = { at: when, handle };
  }

  async #announceExpired(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#deps.announceExpired();
    } catch {
      this.#deps.log.warn('tessera: announcing expired requests failed (retried at the next sweep)');
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#woken = false;
      const free = this.#o.maxInFlight - this.#inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await this.#deps.store.webhooks.claim({ limit: free, perEndpoint: this.#o.perEndpoint, leaseMs: this.#o.timeoutMs + 10_000 }, this.#clock());
        } catch {
          if (this.#stopped) return;
          this.#deps.log.warn('tessera: reading the webhook outbox failed (retrying)');
        }
      }
      if (this.#stopped) {
        await this.#deps.store.webhooks.release(claimed.map((d) => d.id)).catch(() => undefined);
        return;
      }
      for (const delivery of claimed) {
        const task = this.#deliver(delivery).finally(() => {
          this.#inFlight.delete(delivery.id);
          this.wake();
        });
        this.#inFlight.set(delivery.id, task);
      }
      // A full batch may have left more due rows behind: look again at once.
      if (free > 0 && claimed.length === free) continue;
      await this.#sleep(this.#o.pollMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleeper = () => {
        this.#wakeSleeper = undefined;
        done();
      };
    });
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    const { store, log } = this.#deps;
    try {
      const sign = await loadSigner();
      // webhook-timestamp is checked against the receiver's wall clock: always the real time.
      const result = await send(delivery, { timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal, now: () => new Date(), sign });
      if (result.aborted) {
        await store.webhooks.release([delivery.id]);
        return;
      }
      const now = this.#clock();
      let outcome: DeliveryOutcome;
      if (result.ok) outcome = { status: 'delivered' };
      else if (now.getTime() - delivery.createdAt.getTime() >= this.#o.giveUpAfterMs) outcome = { status: 'failed' };
      else outcome = { status: 'pending', nextAttemptAt: new Date(now.getTime() + retryDelay(delivery.attempts, this.#o.retryBaseMs, this.#o.retryMaxMs)) };
      await store.webhooks.finish(delivery.id, result, outcome, now);
      if (outcome.status === 'pending') this.#wakeAt(outcome.nextAttemptAt);
      if (outcome.status === 'failed') log.warn(`tessera: webhook ${delivery.eventId} to endpoint ${delivery.endpoint.id} given up after ${delivery.attempts} attempts`);
    } catch (e) {
      // Signer missing, or the database failed: the lease runs out and the row is taken again.
      if (!this.#stopped) log.error(`tessera: webhook delivery to endpoint ${delivery.endpoint.id} failed: ${e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : 'error'}`);
    }
  }
}
