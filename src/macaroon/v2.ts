/**
 * The V2 binary format (libmacaroons / go-macaroon "v2"): a version byte 0x02, then sections
 * of fields `type(varint) | length(varint) | data` in strictly increasing type order, each
 * section closed by a 0x00 end marker: the header (location?, identifier), each caveat
 * (location?, identifier, vid?), an empty section ending the caveats, then the signature.
 */
import { malformed, limit } from '../errors.js';
import { utf8, utf8Strict } from '../crypto/bytes.js';
import type { CaveatData, MacaroonData } from './data.js';
import { SIGNATURE_LENGTH } from './data.js';
import type { Limits } from './limits.js';
import { ByteReader, uvarintLength, writeUvarint } from './reader.js';

const VERSION = 2;
const EOS = 0;
const LOCATION = 1;
const IDENTIFIER = 2;
const VID = 4;
const SIGNATURE = 6;

type Field = readonly [type: number, data: Uint8Array];

function fieldsOf(location: string | undefined, identifier: Uint8Array, vid?: Uint8Array): Field[] {
  const fields: Field[] = [];
  if (location !== undefined && location !== '') fields.push([LOCATION, utf8(location)]);
  fields.push([IDENTIFIER, identifier]);
  if (vid !== undefined) fields.push([VID, vid]);
  return fields;
}

export function encodeV2(m: MacaroonData): Uint8Array {
  const sections: Field[][] = [fieldsOf(m.location, m.identifier)];
  for (const c of m.caveats) sections.push(fieldsOf(c.location, c.identifier, c.verificationId));
  sections.push([]);
  let size = 1;
  for (const section of sections) {
    for (const [, data] of section) size += 1 + uvarintLength(data.length) + data.length;
    size += 1;
  }
  size += 2 + SIGNATURE_LENGTH;
  const out = new Uint8Array(size);
  let pos = 0;
  out[pos++] = VERSION;
  const put = (type: number, data: Uint8Array): void => {
    out[pos++] = type;
    pos = writeUvarint(out, pos, data.length);
    out.set(data, pos);
    pos += data.length;
  };
  for (const section of sections) {
    for (const [type, data] of section) put(type, data);
    out[pos++] = EOS;
  }
  put(SIGNATURE, m.signature);
  return out;
}

/** One section's fields; a section has at most one of each. */
interface Section {
  location: Uint8Array | undefined;
  identifier: Uint8Array | undefined;
  vid: Uint8Array | undefined;
}

/** Read one section's fields up to its end marker, enforcing increasing type order. */
function readSection(r: ByteReader): Section {
  const section: Section = { location: undefined, identifier: undefined, vid: undefined };
  let last = EOS;
  for (;;) {
    const type = r.uvarint();
    if (type === EOS) return section;
    if (type <= last) throw malformed('macaroon fields are out of order or repeated');
    if (type !== LOCATION && type !== IDENTIFIER && type !== VID) throw malformed(`macaroon has an unknown field type ${type}`);
    last = type;
    const data = r.take(r.uvarint());
    if (type === LOCATION) section.location = data;
    else if (type === IDENTIFIER) section.identifier = data;
    else section.vid = data;
  }
}

function required(section: Section, what: string): Uint8Array {
  if (section.identifier === undefined) throw malformed(`${what} has no identifier`);
  return section.identifier;
}

function optionalLocation(section: Section, what: string): string | undefined {
  return section.location === undefined ? undefined : utf8Strict(section.location, `${what} location`);
}

/** Decode V2 binary. `bytes` must be exactly one macaroon: trailing bytes are an error. */
export function decodeV2(bytes: Uint8Array, limits: Limits): MacaroonData {
  if (bytes.length > limits.maxBytes) throw limit(`macaroon is larger than ${limits.maxBytes} bytes`);
  const r = new ByteReader(bytes, 'macaroon');
  if (r.byte() !== VERSION) throw malformed('macaroon is not V2 binary');
  const header = readSection(r);
  if (header.vid !== undefined) throw malformed('macaroon header has a verification id');
  const identifier = required(header, 'macaroon');
  const location = optionalLocation(header, 'macaroon');
  const caveats: CaveatData[] = [];
  for (;;) {
    if (r.peek() === EOS) {
      r.byte();
      break;
    }
    if (caveats.length >= limits.maxCaveats) throw limit(`macaroon has more than ${limits.maxCaveats} caveats`);
    const fields = readSection(r);
    const c: { -readonly [K in keyof CaveatData]: CaveatData[K] } = { identifier: required(fields, 'caveat') };
    const loc = optionalLocation(fields, 'caveat');
    const vid = fields.vid;
    if (vid !== undefined) c.verificationId = vid;
    if (loc !== undefined) c.location = loc;
    caveats.push(c);
  }
  if (r.uvarint() !== SIGNATURE) throw malformed('macaroon has no signature');
  if (r.uvarint() !== SIGNATURE_LENGTH) throw malformed('macaroon signature must be 32 bytes');
  const signature = r.take(SIGNATURE_LENGTH);
  r.end();
  return { identifier, caveats, signature, ...(location !== undefined ? { location } : {}) };
}
