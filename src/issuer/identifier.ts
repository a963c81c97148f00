/**
 * Token identifiers minted by the issuer: `<prefix>.<keyId>.<nonce>`, where `keyId` names the
 * root key (never the key itself) and `nonce` is 16 random bytes in unpadded base64url.
 *
 * The prefix says what the token is for: `tsr1` for application tokens, `tsa1` for tokens of
 * Tessera's own admin API, `tsp1` for approver tokens (one person deciding requests through the
 * approvals API). Each is signed with its own key derived from the same root key, so no token
 * minted through the API (however few caveats it carries) can ever pass as an admin or approver
 * token, and those are refused by application verifiers.
 *
 * Identifiers hold no secret, so `inspect` may show them, logs may name them, and revocation is
 * by identifier. Attenuations keep the identifier, so revoking it kills all of them at once.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { base64url } from '../crypto/bytes.js';
import { TesseraError } from '../errors.js';

/** What a token is for. */
export type TokenPurpose = 'token' | 'admin' | 'approver';

export const IDENTIFIER_PREFIX: Readonly<Record<TokenPurpose, string>> = Object.freeze({ token: 'tsr1', admin: 'tsa1', approver: 'tsp1' });
const PURPOSE_OF: ReadonlyMap<string, TokenPurpose> = new Map([
  ['tsr1', 'token'],
  ['tsa1', 'admin'],
  ['tsp1', 'approver'],
]);

const NONCE_BYTES = 16;
/** Key ids: what `store.keys.create()` generates (`rk_…`), or any short base64url-safe name. */
export const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** 16 bytes in canonical unpadded base64url: 22 characters, the last carrying 4 zero bits. */
const NONCE = /^[A-Za-z0-9_-]{21}[AQgw]$/;
/** Longest well-formed identifier. */
export const MAX_IDENTIFIER_LENGTH = 4 + 1 + 64 + 1 + 22;

export interface ParsedIdentifier {
  readonly purpose: TokenPurpose;
  readonly keyId: string;
  /** The nonce as it appears in the identifier (base64url). */
  readonly nonce: string;
}

/** A fresh identifier for a token minted with key `keyId`. */
export function newIdentifier(keyId: string, purpose: TokenPurpose = 'token'): string {
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) {
    throw new TesseraError('ERR_INVALID_ARGUMENT', 'root key id is not usable in an identifier', { field: 'keyId' });
  }
  const prefix = IDENTIFIER_PREFIX[purpose];
  if (prefix === undefined) throw new TesseraError('ERR_INVALID_ARGUMENT', 'unknown token purpose', { field: 'purpose' });
  return `${prefix}.${keyId}.${base64url(randomBytes(NONCE_BYTES))}`;
}

/** Parse an identifier strictly; anything but `tsr1|tsa1|tsp1.<keyId>.<nonce>` is ERR_MALFORMED. */
export function parseIdentifier(text: string): ParsedIdentifier {
  const bad = (): TesseraError =>
    new TesseraError('ERR_MALFORMED', 'not a Tessera token identifier (expected tsr1.<key id>.<nonce>)', { field: 'identifier' });
  if (typeof text !== 'string' || text.length > MAX_IDENTIFIER_LENGTH) throw bad();
  const parts = text.split('.');
  const [prefix, keyId, nonce] = parts;
  const purpose = prefix === undefined ? undefined : PURPOSE_OF.get(prefix);
  if (parts.length !== 3 || purpose === undefined || keyId === undefined || !KEY_ID.test(keyId) || nonce === undefined || !NONCE.test(nonce)) {
    throw bad();
  }
  return Object.freeze({ purpose, keyId, nonce });
}

/** True when `text` is a well-formed Tessera identifier. */
export function isIdentifier(text: unknown): text is string {
  try {
    parseIdentifier(text as string);
    return true;
  } catch {
    return false;
  }
}
