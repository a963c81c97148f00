/**
 * Third-party caveat identifiers ("tickets"), byte-compatible with the Go macaroon bakery's
 * version 2 and 3 caveat ids (bakery/codec.go).
 *
 * A token holder adds a third-party caveat offline: it picks a random caveat key and seals
 * (caveat key, condition) to the discharge service's X25519 public key with NaCl box, from a
 * fresh ephemeral key pair. Layout:
 *
 *   version(1) | thirdPartyPublicKey[0:4] | senderPublicKey(32) | nonce(24) | box(secret)
 *   secret v2 = version(1) | uvarint(len key) | key | condition
 *   secret v3 = version(1) | uvarint(len key) | key | uvarint(len ns) | ns | condition
 *
 * Ticket bytes are untrusted input: decoding is bounded and strict, and only ever throws
 * TesseraError.
 */
import { equalBytes, randomBytes } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { invalidArgument, limit, malformed, TesseraError } from '../errors.js';
import { BOX_KEY_BYTES, BOX_NONCE_BYTES, BOX_OVERHEAD, box, boxOpen, checkBytes } from './box.js';

export type TicketVersion = 2 | 3;

/** Largest ticket accepted or produced; far above any real condition. */
export const TICKET_MAX_BYTES = 64 * 1024;
/** Caveat keys shorter than this are not keys; the bakeries use 24 bytes, Tessera 32. */
export const CAVEAT_KEY_MIN_BYTES = 16;
export const CAVEAT_KEY_MAX_BYTES = 64;

const PUBLIC_KEY_PREFIX_BYTES = 4;
const HEADER_BYTES = 1 + PUBLIC_KEY_PREFIX_BYTES + BOX_KEY_BYTES + BOX_NONCE_BYTES;
// Header, tag and at least the inner version byte (the Go bakery's own lower bound).
const MIN_TICKET_BYTES = HEADER_BYTES + BOX_OVERHEAD + 1;
const MAX_UVARINT_BYTES = 5;

export interface DischargerKeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export interface TicketFields {
  /** The third-party caveat's root key, shared with the discharger through the ticket. */
  readonly caveatKey: Uint8Array;
  /** What the discharger must check before discharging. */
  readonly condition: string;
  /** The discharge service's X25519 public key. */
  readonly thirdPartyPublicKey: Uint8Array;
  /** Bakery caveat-id version; 2 unless given. */
  readonly version?: TicketVersion;
  /** Version 3 only: the bakery checker namespace text (e.g. "std:"); empty when omitted. */
  readonly namespace?: string;
}

/** Test-only: fix the randomness so a known ticket can be reproduced byte for byte. */
export interface TicketTestingOptions {
  readonly senderPrivateKey?: Uint8Array;
  readonly nonce?: Uint8Array;
}

export interface DecodedTicket {
  readonly version: TicketVersion;
  readonly caveatKey: Uint8Array;
  readonly condition: string;
  /** Present for version 3 tickets only. */
  readonly namespace?: string;
  /** The (ephemeral) key the ticket was sealed from. */
  readonly senderPublicKey: Uint8Array;
}

/** A fresh X25519 key pair for a discharge service. */
export function generateDischargerKeyPair(): DischargerKeyPair {
  const { secretKey, publicKey } = x25519.keygen();
  return { publicKey, privateKey: secretKey };
}

/** Seal a caveat key and condition into a ticket for the discharger at `thirdPartyPublicKey`. */
export function encodeTicket(fields: TicketFields, testing: TicketTestingOptions = {}): Uint8Array {
  if (typeof fields !== 'object' || fields === null) throw invalidArgument('ticket fields must be an object');
  const { caveatKey, condition, thirdPartyPublicKey } = fields;
  const version = fields.version ?? 2;
  if (version !== 2 && version !== 3) throw invalidArgument('unsupported ticket version', { field: 'version' });
  checkBytes(caveatKey, 'caveatKey');
  if (caveatKey.length < CAVEAT_KEY_MIN_BYTES || caveatKey.length > CAVEAT_KEY_MAX_BYTES) {
    throw invalidArgument(`caveatKey must be ${CAVEAT_KEY_MIN_BYTES}..${CAVEAT_KEY_MAX_BYTES} bytes`, { field: 'caveatKey' });
  }
  checkBytes(thirdPartyPublicKey, 'thirdPartyPublicKey', BOX_KEY_BYTES);
  if (version === 2 && fields.namespace !== undefined) {
    // Silently dropping it would change what the discharger checks.
    throw invalidArgument('a namespace needs a version 3 ticket', { field: 'namespace' });
  }
  const conditionBytes = utf8Encode(condition, 'condition');
  const namespaceBytes = version === 3 ? utf8Encode(fields.namespace ?? '', 'namespace') : undefined;

  const secretLength =
    1 +
    uvarintLength(caveatKey.length) +
    caveatKey.length +
    (namespaceBytes ? uvarintLength(namespaceBytes.length) + namespaceBytes.length : 0) +
    conditionBytes.length;
  if (HEADER_BYTES + BOX_OVERHEAD + secretLength > TICKET_MAX_BYTES) {
    throw limit(`ticket would exceed ${TICKET_MAX_BYTES} bytes`, { field: 'condition' });
  }
  const secret = new Uint8Array(secretLength);
  let at = 0;
  secret[at++] = version;
  at = putUvarint(secret, at, caveatKey.length);
  secret.set(caveatKey, at);
  at += caveatKey.length;
  if (namespaceBytes) {
    at = putUvarint(secret, at, namespaceBytes.length);
    secret.set(namespaceBytes, at);
    at += namespaceBytes.length;
  }
  secret.set(conditionBytes, at);

  if (testing.senderPrivateKey !== undefined) checkBytes(testing.senderPrivateKey, 'senderPrivateKey', BOX_KEY_BYTES);
  if (testing.nonce !== undefined) checkBytes(testing.nonce, 'nonce', BOX_NONCE_BYTES);
  // A fresh sender key per ticket: tickets from one holder cannot be linked by their key.
  const senderPrivateKey = testing.senderPrivateKey ?? x25519.utils.randomSecretKey();
  const nonce = testing.nonce ?? randomBytes(BOX_NONCE_BYTES);
  let sealed: Uint8Array;
  try {
    sealed = box(secret, nonce, thirdPartyPublicKey, senderPrivateKey);
  } catch (cause) {
    if (cause instanceof TesseraError && cause.code === 'ERR_MALFORMED') {
      throw new TesseraError('ERR_INVALID_ARGUMENT', 'thirdPartyPublicKey is not usable', { field: 'thirdPartyPublicKey' }, { cause });
    }
    throw cause;
  } finally {
    secret.fill(0);
  }
  const senderPublicKey = x25519.getPublicKey(senderPrivateKey);
  if (testing.senderPrivateKey === undefined) senderPrivateKey.fill(0);

  const ticket = new Uint8Array(HEADER_BYTES + sealed.length);
  ticket[0] = version;
  ticket.set(thirdPartyPublicKey.subarray(0, PUBLIC_KEY_PREFIX_BYTES), 1);
  ticket.set(senderPublicKey, 1 + PUBLIC_KEY_PREFIX_BYTES);
  ticket.set(nonce, 1 + PUBLIC_KEY_PREFIX_BYTES + BOX_KEY_BYTES);
  ticket.set(sealed, HEADER_BYTES);
  return ticket;
}

/**
 * Open a ticket with the discharger's private key. `publicKey` saves deriving it from
 * `privateKey` when the caller already has it. Throws ERR_MALFORMED for anything that is not a
 * well-formed v2/v3 ticket sealed for this key, ERR_LIMIT when it is larger than TICKET_MAX_BYTES.
 */
export function decodeTicket(id: Uint8Array, privateKey: Uint8Array, publicKey?: Uint8Array): DecodedTicket {
  checkBytes(id, 'id');
  checkBytes(privateKey, 'privateKey', BOX_KEY_BYTES);
  if (publicKey !== undefined) checkBytes(publicKey, 'publicKey', BOX_KEY_BYTES);
  if (id.length > TICKET_MAX_BYTES) throw limit(`ticket exceeds ${TICKET_MAX_BYTES} bytes`);
  if (id.length === 0) throw malformed('ticket is empty');
  const version = id[0];
  if (version !== 2 && version !== 3) throw malformed('unsupported ticket version', { version });
  if (id.length < MIN_TICKET_BYTES) throw malformed('ticket is truncated');

  const ownPublicKey = publicKey ?? x25519.getPublicKey(privateKey);
  const prefix = id.subarray(1, 1 + PUBLIC_KEY_PREFIX_BYTES);
  if (!equalBytes(prefix, ownPublicKey.subarray(0, PUBLIC_KEY_PREFIX_BYTES))) {
    throw malformed('ticket is sealed for another discharger', { field: 'thirdPartyPublicKey' });
  }
  const senderPublicKey = id.slice(1 + PUBLIC_KEY_PREFIX_BYTES, 1 + PUBLIC_KEY_PREFIX_BYTES + BOX_KEY_BYTES);
  if (!isCanonicalPoint(senderPublicKey)) throw malformed('ticket sender key is not canonical', { field: 'senderPublicKey' });
  const nonce = id.subarray(1 + PUBLIC_KEY_PREFIX_BYTES + BOX_KEY_BYTES, HEADER_BYTES);
  const secret = boxOpen(id.subarray(HEADER_BYTES), nonce, senderPublicKey, privateKey);
  try {
    return parseSecret(secret, version, senderPublicKey);
  } finally {
    secret.fill(0);
  }
}

function parseSecret(secret: Uint8Array, version: TicketVersion, senderPublicKey: Uint8Array): DecodedTicket {
  if (secret[0] !== version) throw malformed('ticket secret version does not match its header');
  const reader = { bytes: secret, at: 1 };
  const keyLength = readLength(reader, 'caveatKey');
  if (keyLength < CAVEAT_KEY_MIN_BYTES || keyLength > CAVEAT_KEY_MAX_BYTES) {
    throw malformed('ticket caveat key has an unusable length', { field: 'caveatKey' });
  }
  const caveatKey = secret.slice(reader.at, reader.at + keyLength);
  reader.at += keyLength;
  let namespace: string | undefined;
  if (version === 3) {
    const nsLength = readLength(reader, 'namespace');
    namespace = utf8Decode(secret.subarray(reader.at, reader.at + nsLength), 'namespace');
    reader.at += nsLength;
  }
  // The condition runs to the end of the secret, as in the bakery.
  const condition = utf8Decode(secret.subarray(reader.at), 'condition');
  return Object.freeze(
    namespace === undefined
      ? { version, caveatKey, condition, senderPublicKey }
      : { version, caveatKey, condition, namespace, senderPublicKey },
  );
}

/**
 * X25519 ignores the top bit of a u-coordinate and reduces it mod p, so without this check a
 * ticket would have several spellings that all open. Real keys (x25519 outputs) are always
 * canonical: top bit clear and u < 2^255 - 19.
 */
function isCanonicalPoint(u: Uint8Array): boolean {
  const top = u[31] ?? 0;
  if (top > 0x7f) return false;
  if (top < 0x7f || (u[0] ?? 0) < 0xed) return true;
  for (let i = 1; i < 31; i++) if (u[i] !== 0xff) return true;
  return false;
}

/** Read a Go `binary.Uvarint` length, bounded to 32 bits and to the bytes that remain. */
function readLength(reader: { bytes: Uint8Array; at: number }, field: string): number {
  const { bytes } = reader;
  let value = 0;
  for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
    const b = bytes[reader.at + i];
    if (b === undefined) throw malformed('ticket length is truncated', { field });
    if (i === MAX_UVARINT_BYTES - 1 && b > 0x0f) throw malformed('ticket length overflows 32 bits', { field });
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      // Go's encoder is minimal; a padded varint is a second spelling of the same ticket.
      if (b === 0 && i > 0) throw malformed('ticket length is not minimally encoded', { field });
      reader.at += i + 1;
      if (value > bytes.length - reader.at) throw malformed('ticket length exceeds the remaining bytes', { field });
      return value;
    }
  }
  throw malformed('ticket length overflows 32 bits', { field });
}

function uvarintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function putUvarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

// Lone surrogates would be silently replaced by U+FFFD, sealing a different condition.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function utf8Encode(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || LONE_SURROGATE.test(value)) {
    throw invalidArgument(`${field} must be a well-formed string`, { field });
  }
  return new TextEncoder().encode(value);
}

// ignoreBOM keeps a leading U+FEFF, so decoding is the exact inverse of encoding.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8Decode(bytes: Uint8Array, field: string): string {
  try {
    return UTF8.decode(bytes);
  } catch (cause) {
    throw new TesseraError('ERR_MALFORMED', `ticket ${field} is not valid UTF-8`, { field }, { cause });
  }
}
