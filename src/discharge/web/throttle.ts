/**
 * The approval pages' sign-in throttle, shared by every instance through the database
 * (`store.rateLimits`), so N instances behind a load balancer give a password guesser one
 * budget, not N.
 *
 * Two counts per failed sign-in, each in a fixed window from its first failure:
 * - per account *and* address (default 5 per 15 minutes): the lockout. It locks the account
 *   for the guessing address only, so a stranger cannot lock an approver out: the owner, from
 *   another address, still signs in (issue #11).
 * - per address (default 20 per 15 minutes), across account names: one address cannot spray
 *   guesses over many accounts.
 * IPv6 addresses count per /64 (one host usually holds a whole /64), IPv4 per address.
 * A successful sign-in clears its account-and-address count. Ended windows are pruned, at most
 * once a minute per process, by the failed sign-ins themselves.
 */
import { cidrFromText } from '../../../caveats/client-ip.js';
import type { WindowLimit } from '../../http/rate-limit.js';
import type { Store } from '../../storage/index.js';

export interface SignInLimits {
  /** Failed sign-ins per account and address before that address is locked out of it. */
  readonly perAccount: WindowLimit;
  /** Failed sign-ins per address, whatever the account name. */
  readonly perAddress: WindowLimit;
}

const PRUNE_EVERY_MS = 60_000;

/** What an address counts as: IPv4 itself, IPv6 its /64, anything else its (bounded) text. */
export function addressGroup(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  try {
    const { bytes } = cidrFromText(address);
    if (bytes.length === 4) return bytes.join('.');
    return `${bytes.slice(0, 8).map((b) => b.toString(16).padStart(2, '0')).join('')}/64`;
  } catch {
    return `raw:${address.slice(0, 64)}`;
  }
}

export class SignInThrottle {
  readonly #store: Pick<Store, 'rateLimits'>;
  readonly #limits: SignInLimits;
  readonly #now: () => Date;
  #prunedAt = 0;

  constructor(store: Pick<Store, 'rateLimits'>, limits: SignInLimits, now: () => Date) {
    this.#store = store;
    this.#limits = limits;
    this.#now = now;
  }

  #keys(name: string, address: string | undefined): { account: string; address: string } {
    const group = addressGroup(address);
    return { account: `sign-in:account:${JSON.stringify([group, name])}`, address: `sign-in:address:${group}` };
  }

  /** Seconds until `name` may try again from `address`, or 0 if it may try now. */
  async retryAfter(name: string, address: string | undefined): Promise<number> {
    const keys = this.#keys(name, address);
    const now = this.#now();
    const counts = await this.#store.rateLimits.read([keys.account, keys.address], now);
    let wait = 0;
    for (const c of counts) {
      const max = c.key === keys.account ? this.#limits.perAccount.max : this.#limits.perAddress.max;
      if (c.events >= max) wait = Math.max(wait, Math.ceil((c.resetAt.getTime() - now.getTime()) / 1000));
    }
    return wait;
  }

  /** Count a failed sign-in for `name` from `address`. */
  async failed(name: string, address: string | undefined): Promise<void> {
    const keys = this.#keys(name, address);
    const now = this.#now();
    await this.#store.rateLimits.count(
      [
        { key: keys.account, windowSeconds: this.#limits.perAccount.windowSeconds },
        { key: keys.address, windowSeconds: this.#limits.perAddress.windowSeconds },
      ],
      now,
    );
    if (now.getTime() - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = now.getTime();
      await this.#store.rateLimits.prune(now);
    }
  }

  /** A successful sign-in: forget the failures of `name` from `address`. */
  async succeeded(name: string, address: string | undefined): Promise<void> {
    await this.#store.rateLimits.reset([this.#keys(name, address).account]);
  }
}

/** "14 minutes", "1 minute", "40 seconds": how long to wait, for a person. */
export function waitText(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
