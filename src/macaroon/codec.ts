/**
 * One entry point for every encoding a token may arrive in: V2 binary, V1 binary, V2 JSON,
 * or any of those as base64 (either alphabet, padded or not). Decides by the first byte or
 * character, then hands the input to exactly one strict decoder.
 */
import { limit, malformed, invalidArgument } from '../errors.js';
import { base64Decode, base64url, utf8Strict } from '../crypto/bytes.js';
import type { MacaroonData } from './data.js';
import { fromJSONObject, parseJSON, toJSONObject, type MacaroonJSON } from './json.js';
import type { Limits } from './limits.js';
import { decodeV1, encodeV1 } from './v1.js';
import { decodeV2, encodeV2 } from './v2.js';

export type Format = 'v2' | 'v1' | 'json';
/** Also the V2 JSON object without `v`, as go-macaroon and pymacaroons write it. */
export type EncodedMacaroon = string | Uint8Array | MacaroonJSON | Omit<MacaroonJSON, 'v'>;

/** V1 starts with its first packet's length in lowercase hex. */
const isHexDigit = (b: number | undefined): boolean => b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66));

function decodeBinary(bytes: Uint8Array, limits: Limits): MacaroonData {
  if (bytes[0] === 2) return decodeV2(bytes, limits);
  if (isHexDigit(bytes[0])) return decodeV1(bytes, limits);
  if (bytes[0] === 0x7b) return parseJSON(utf8Strict(bytes, 'macaroon JSON'), limits);
  throw malformed('macaroon is in no known format');
}

export function decodeData(input: unknown, limits: Limits): MacaroonData {
  if (typeof input === 'string') {
    // Base64 is 4/3 the binary size; a JSON token is bounded inside parseJSON.
    if (input.length > Math.ceil((limits.maxBytes * 4) / 3) + 2 && !input.startsWith('{')) {
      throw limit(`macaroon is larger than ${limits.maxBytes} bytes`);
    }
    if (input.length === 0) throw malformed('macaroon is empty');
    if (input.startsWith('{')) return parseJSON(input, limits);
    return decodeBinary(base64Decode(input, 'macaroon'), limits);
  }
  if (input instanceof Uint8Array) {
    if (input.length === 0) throw malformed('macaroon is empty');
    if (input.length > limits.maxBytes * 2) throw limit(`macaroon is larger than ${limits.maxBytes} bytes`);
    return decodeBinary(input.slice(), limits);
  }
  if (typeof input === 'object' && input !== null) return fromJSONObject(input, limits);
  throw invalidArgument('a macaroon must be a string, bytes or a JSON object');
}

export function encodeData(m: MacaroonData, format: Format): string {
  switch (format) {
    case 'v2':
      return base64url(encodeV2(m));
    case 'v1':
      return base64url(encodeV1(m));
    case 'json':
      return JSON.stringify(toJSONObject(m));
    default:
      throw invalidArgument(`unknown macaroon format "${String(format).slice(0, 8)}"`);
  }
}

export { encodeV2, toJSONObject };
