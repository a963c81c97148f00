/**
 * A bounds-checked cursor over untrusted bytes. Every read checks what is left first, so a
 * truncated or lying length becomes ERR_MALFORMED, never an out-of-range read.
 */
import { malformed } from '../errors.js';

export class ByteReader {
  #pos = 0;
  constructor(readonly bytes: Uint8Array, readonly what: string) {}

  get remaining(): number {
    return this.bytes.length - this.#pos;
  }

  byte(): number {
    if (this.#pos >= this.bytes.length) throw malformed(`${this.what} is truncated`);
    return this.bytes[this.#pos++] as number;
  }

  peek(): number | undefined {
    return this.bytes[this.#pos];
  }

  take(n: number): Uint8Array {
    if (n > this.remaining) throw malformed(`${this.what} is truncated`);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Unsigned LEB128 varint, at most 32 bits, minimally encoded. */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed(`${this.what} has a non-minimal varint`);
        if (value > 0xffffffff) throw malformed(`${this.what} has a varint over 32 bits`);
        return value;
      }
    }
    throw malformed(`${this.what} has a varint over 32 bits`);
  }

  end(): void {
    if (this.remaining !== 0) throw malformed(`${this.what} has trailing bytes`);
  }
}

export function uvarintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

export function writeUvarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}
