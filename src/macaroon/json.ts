/**
 * The V2 JSON format (go-macaroon, js-macaroon, pymacaroons): `{"v":2, "l", "i"|"i64",
 * "c":[{"i"|"i64", "v"|"v64", "l"}], "s"|"s64"}`. Text fields hold UTF-8, `*64` fields base64
 * (either alphabet, padded or not). `v` is optional on input: go-macaroon (and so the Go bakery
 * over HTTP) and pymacaroons never write it, js-macaroon and Tessera do; when present it must be
 * 2. Strict: only plain objects, no unknown fields (V1 JSON's `identifier`… is refused here),
 * never both `x` and `x64`.
 */
import { malformed, limit } from '../errors.js';
import { base64Decode, base64url, isUtf8, utf8, utf8Strict } from '../crypto/bytes.js';
import type { CaveatData, MacaroonData } from './data.js';
import { SIGNATURE_LENGTH } from './data.js';
import type { Limits } from './limits.js';

export interface MacaroonJSONCaveat {
  readonly i?: string;
  readonly i64?: string;
  readonly v?: string;
  readonly v64?: string;
  readonly l?: string;
}

export interface MacaroonJSON {
  readonly v: 2;
  readonly l?: string;
  readonly i?: string;
  readonly i64?: string;
  readonly c?: readonly MacaroonJSONCaveat[];
  readonly s?: string;
  readonly s64?: string;
}

/** Bytes as `x` when they are UTF-8 text, else as `x64` (go-macaroon's rule). */
function bytesField(key: string, bytes: Uint8Array): Record<string, string> {
  // utf8Strict keeps a leading U+FEFF; a default TextDecoder would drop it and change the bytes.
  return isUtf8(bytes) ? { [key]: utf8Strict(bytes, key) } : { [`${key}64`]: base64url(bytes) };
}

export function toJSONObject(m: MacaroonData): MacaroonJSON {
  const caveats = m.caveats.map((c) => ({
    ...bytesField('i', c.identifier),
    ...(c.verificationId !== undefined ? { v64: base64url(c.verificationId) } : {}),
    ...(c.location !== undefined ? { l: c.location } : {}),
  }));
  return {
    v: 2,
    ...(m.location !== undefined ? { l: m.location } : {}),
    ...bytesField('i', m.identifier),
    ...(caveats.length > 0 ? { c: caveats } : {}),
    s64: base64url(m.signature),
  };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw malformed(`${what} has an unknown field "${key.slice(0, 16)}"`);
  }
}

function text(obj: Record<string, unknown>, key: string, what: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw malformed(`${what} field "${key}" must be a string`);
  // A JS string may hold lone surrogates, which no UTF-8 encoding represents.
  if (!value.isWellFormed()) throw malformed(`${what} field "${key}" is not valid Unicode`);
  return value;
}

/** The field given as `key` (text) or `key64` (base64), never both. */
function either(obj: Record<string, unknown>, key: string, what: string): Uint8Array | undefined {
  const plain = text(obj, key, what);
  const encoded = text(obj, `${key}64`, what);
  if (plain !== undefined && encoded !== undefined) throw malformed(`${what} has both "${key}" and "${key}64"`);
  if (plain !== undefined) return utf8(plain);
  if (encoded !== undefined) return base64Decode(encoded, `${what} field "${key}64"`);
  return undefined;
}

function caveatFromJSON(raw: unknown): CaveatData {
  if (!isPlainObject(raw)) throw malformed('macaroon JSON caveat must be an object');
  onlyKeys(raw, ['i', 'i64', 'v', 'v64', 'l'], 'macaroon JSON caveat');
  const id = either(raw, 'i', 'macaroon JSON caveat');
  if (id === undefined) throw malformed('macaroon JSON caveat has no identifier');
  const vid = either(raw, 'v', 'macaroon JSON caveat');
  const loc = text(raw, 'l', 'macaroon JSON caveat');
  return { identifier: id, ...(vid !== undefined ? { verificationId: vid } : {}), ...(loc !== undefined ? { location: loc } : {}) };
}

export function fromJSONObject(input: unknown, limits: Limits): MacaroonData {
  if (!isPlainObject(input)) throw malformed('macaroon JSON must be an object');
  onlyKeys(input, ['v', 'l', 'i', 'i64', 'c', 's', 's64'], 'macaroon JSON');
  if (input.v !== undefined && input.v !== 2) throw malformed('macaroon JSON "v" must be 2 when present');
  const identifier = either(input, 'i', 'macaroon JSON');
  if (identifier === undefined) throw malformed('macaroon JSON has no identifier');
  const signature = either(input, 's', 'macaroon JSON');
  if (signature === undefined || signature.length !== SIGNATURE_LENGTH) throw malformed('macaroon signature must be 32 bytes');
  const location = text(input, 'l', 'macaroon JSON');
  const rawCaveats = input.c ?? [];
  if (!Array.isArray(rawCaveats)) throw malformed('macaroon JSON field "c" must be an array');
  if (rawCaveats.length > limits.maxCaveats) throw limit(`macaroon has more than ${limits.maxCaveats} caveats`);
  // An index loop, not map: map skips the holes of a sparse array, leaving undefined caveats.
  const caveats: CaveatData[] = [];
  for (let n = 0; n < rawCaveats.length; n++) caveats.push(caveatFromJSON(rawCaveats[n]));
  let size = identifier.length;
  for (const c of caveats) size += c.identifier.length + (c.verificationId?.length ?? 0);
  if (size > limits.maxBytes) throw limit(`macaroon is larger than ${limits.maxBytes} bytes`);
  return { identifier, caveats, signature, ...(location !== undefined ? { location } : {}) };
}

/** Parse JSON text into the object form, bounding size first. */
export function parseJSON(textInput: string, limits: Limits): MacaroonData {
  // Base64 fields grow binary by 4/3 and JSON adds punctuation; allow twice the binary bound.
  if (textInput.length > limits.maxBytes * 2) throw limit(`macaroon JSON is larger than ${limits.maxBytes * 2} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(textInput);
  } catch {
    throw malformed('macaroon JSON does not parse');
  }
  if (hasRepeatedKey(textInput)) throw malformed('macaroon JSON repeats a key');
  return fromJSONObject(parsed, limits);
}

/**
 * True when some object in `json` (already known to be valid JSON) names a key twice.
 * JSON.parse silently keeps the last value, so a repeated "i" or "s64" would let two readers
 * of the same text see different tokens. Keys are compared after unescaping.
 */
function hasRepeatedKey(json: string): boolean {
  const objects: (Set<string> | undefined)[] = []; // one entry per open object or array
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      while (json.charCodeAt(end) !== 0x22) end += json.charCodeAt(end) === 0x5c ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (expectKey && keys !== undefined) {
        const raw = json.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(json.slice(i, end + 1)) as string) : raw;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      objects.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      objects.push(undefined);
    } else if (c === 0x7d || c === 0x5d) {
      objects.pop();
    } else if (c === 0x2c) {
      expectKey = objects[objects.length - 1] !== undefined;
    }
  }
  return false;
}

