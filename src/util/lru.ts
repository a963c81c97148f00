/**
 * A bounded, approximately-LRU map from strings to values, for the hot-path caches (verified
 * chains in the Verifier, parsed conditions in the caveat registry). Keys are whole strings
 * compared by Map, so no attacker-chosen input can collide into another key's entry.
 *
 * Recency is approximate, to keep a hit cheap: moving an entry to the young end of the Map
 * (delete + set) costs more than the rest of a warm verification's bookkeeping, so a hit only
 * moves it once it has aged past a quarter of the capacity. An entry hit at least once per
 * maxEntries / 4 insertions is then at most half the capacity old and is never evicted, which
 * is what an LRU is for here.
 */
interface Slot<T> {
  readonly value: T;
  /** The insertion count when this entry was last placed at the young end. */
  stamp: number;
}

export class Lru<T> {
  readonly #entries = new Map<string, Slot<T>>();
  #insertions = 0;
  constructor(readonly maxEntries: number) {}

  get(key: string): T | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    if (this.#insertions - slot.stamp > this.maxEntries / 4) {
      this.#entries.delete(key);
      this.#entries.set(key, slot);
      slot.stamp = ++this.#insertions;
    }
    return slot.value;
  }

  set(key: string, value: T): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, { value, stamp: ++this.#insertions });
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
