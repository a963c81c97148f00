/**
 * A bounded LRU of signature-verified chains. It remembers only what the HMAC chain proved
 * (which conditions a token carries); caveats, revocation and usage are decided afresh on
 * every request. Keys are the exact encoded token text, compared whole by Map, so no
 * attacker-chosen bytes can collide into another token's entry.
 */
import type { VerifiedMacaroon } from '../macaroon/verify.js';

export interface CachedChain {
  /** The derived root key the chain was verified with; a hit must present the same key. */
  readonly key: Uint8Array;
  readonly chain: readonly VerifiedMacaroon[];
}

export class ChainCache {
  readonly #entries = new Map<string, CachedChain>();
  constructor(readonly maxEntries: number) {}

  get(key: string): CachedChain | undefined {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: CachedChain): void {
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, value);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
