/**
 * The V1 format (libmacaroons' original): a sequence of packets `LLLLkey value\n`, where LLLL
 * is the packet length in four lowercase hex digits (as libmacaroons and go-macaroon write and
 * read it: one packet, one spelling), including itself and the newline. Order: location,
 * identifier, then per caveat cid [vid cl], then signature.
 */
import { malformed, limit } from '../errors.js';
import { concat, utf8, utf8Strict } from '../crypto/bytes.js';
import type { CaveatData, MacaroonData } from './data.js';
import { SIGNATURE_LENGTH } from './data.js';
import type { Limits } from './limits.js';
import { ByteReader } from './reader.js';

const MAX_PACKET = 0xffff;
const HEADER = 4;
const SPACE = 0x20;
const NEWLINE = 0x0a;

function packet(key: string, value: Uint8Array): Uint8Array {
  const k = utf8(key);
  const size = HEADER + k.length + 1 + value.length + 1;
  if (size > MAX_PACKET) throw limit(`V1 packet for ${key} is over ${MAX_PACKET} bytes`);
  const out = new Uint8Array(size);
  out.set(utf8(size.toString(16).padStart(HEADER, '0')), 0);
  out.set(k, HEADER);
  out[HEADER + k.length] = SPACE;
  out.set(value, HEADER + k.length + 1);
  out[size - 1] = NEWLINE;
  return out;
}

export function encodeV1(m: MacaroonData): Uint8Array {
  const parts = [packet('location', utf8(m.location ?? '')), packet('identifier', m.identifier)];
  for (const c of m.caveats) {
    parts.push(packet('cid', c.identifier));
    if (c.verificationId !== undefined) {
      parts.push(packet('vid', c.verificationId));
      parts.push(packet('cl', utf8(c.location ?? '')));
    }
  }
  parts.push(packet('signature', m.signature));
  return concat(...parts);
}

const HEX = /^[0-9a-f]{4}$/;

function readPacket(r: ByteReader): { key: string; value: Uint8Array } {
  const head = String.fromCharCode(...r.take(HEADER));
  if (!HEX.test(head)) throw malformed('V1 packet length is not hex');
  const size = Number.parseInt(head, 16);
  if (size < HEADER + 2) throw malformed('V1 packet is too short');
  const body = r.take(size - HEADER);
  if (body[body.length - 1] !== NEWLINE) throw malformed('V1 packet does not end in a newline');
  const space = body.indexOf(SPACE);
  if (space <= 0 || space > 16) throw malformed('V1 packet has no key');
  return { key: String.fromCharCode(...body.subarray(0, space)), value: body.subarray(space + 1, body.length - 1) };
}

export function decodeV1(bytes: Uint8Array, limits: Limits): MacaroonData {
  if (bytes.length > limits.maxBytes) throw limit(`macaroon is larger than ${limits.maxBytes} bytes`);
  const r = new ByteReader(bytes, 'V1 macaroon');
  const expect = (key: string): Uint8Array => {
    const p = readPacket(r);
    if (p.key !== key) throw malformed(`V1 macaroon expected ${key} but found another field`);
    return p.value;
  };
  const location = utf8Strict(expect('location'), 'macaroon location');
  const identifier = expect('identifier');
  const caveats: CaveatData[] = [];
  let p = readPacket(r);
  while (p.key === 'cid') {
    if (caveats.length >= limits.maxCaveats) throw limit(`macaroon has more than ${limits.maxCaveats} caveats`);
    const cid = p.value;
    p = readPacket(r);
    if (p.key === 'vid') {
      const verificationId = p.value;
      const cl = expect('cl');
      caveats.push({ identifier: cid, verificationId, location: utf8Strict(cl, 'caveat location') });
      p = readPacket(r);
    } else {
      caveats.push({ identifier: cid });
    }
  }
  if (p.key !== 'signature') throw malformed('V1 macaroon has an unexpected field');
  if (p.value.length !== SIGNATURE_LENGTH) throw malformed('macaroon signature must be 32 bytes');
  r.end();
  return { location, identifier, caveats, signature: p.value };
}
