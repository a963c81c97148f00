/**
 * The Issuer: mints tokens (recording each one and auditing it), reports their status, revokes
 * them (durably, before answering), and rotates root keys.
 *
 * Mint requests name their caveats as condition text; each is checked against the caveat
 * registry first, so a typo is refused at mint time (naming the caveat) instead of producing a
 * token that fails closed everywhere. A `ttlSeconds` becomes a `time-before` caveat.
 */
import { caveat as build, defaultRegistry, type CaveatRegistry } from '../../caveats/index.js';
import { TesseraError, invalidArgument, isTesseraError } from '../errors.js';
import { Macaroon } from '../macaroon/macaroon.js';
import type { Store, TokenRecord } from '../storage/index.js';
import { isIdentifier, newIdentifier, parseIdentifier, type TokenPurpose } from './identifier.js';
import { purposeKey, type Keyring, type KeyView, type RotateOptions, type RotateResult } from './keyring.js';
import type { RevocationSet } from './revocation-set.js';
import type { DurationBounds } from '../util/duration.js';

/** Most caveats one mint request may ask for. */
export const MAX_MINT_CAVEATS = 64;
/** Longest ttl accepted: ten years. */
export const MAX_TTL_SECONDS = 10 * 366 * 24 * 3600;
/** A minted token's lifetime, in the one duration syntax (src/util/duration.ts). */
export const TTL_BOUNDS: DurationBounds = { min: 1, max: MAX_TTL_SECONDS };
/** Longest label or subject. */
export const MAX_LABEL_LENGTH = 256;

export interface IssuerOptions {
  readonly store: Store;
  readonly keyring: Keyring;
  readonly revocations: Pick<RevocationSet, 'add'>;
  /** Written into tokens as their location (the issuer's public URL). */
  readonly location?: string;
  readonly clock?: () => Date;
  /** Caveats accepted at mint time (default: the standard set). */
  readonly caveats?: CaveatRegistry;
}

export interface MintInput {
  /** First-party conditions, e.g. `ops read`, `resource /docs/*`, `uses 1`. */
  readonly caveats?: readonly string[];
  /** A note for people (not secret, shown in status and audit). */
  readonly label?: string;
  /** Who or what the token is for, for listing. */
  readonly subject?: string;
  /** Lifetime in seconds: adds `time-before <now + ttl>`. */
  readonly ttlSeconds?: number;
  /** `admin` mints a token for Tessera's own admin API, `approver` one for the approvals API (each signed with its purpose's key). */
  readonly purpose?: TokenPurpose;
  /**
   * The identifier this token replaces (an admin token reissued at key rotation). Revoking
   * that identifier revokes this token too, so a reissue is no way around a revocation.
   */
  readonly replaces?: string;
  /** Who asked, for the audit log. */
  readonly actor?: string;
}

/** The subject recorded for a token that replaces `identifier`. */
const REPLACES = 'replaces:';
/** How deep revocation follows replacement chains. */
const MAX_REPLACEMENT_DEPTH = 32;

export interface MintedToken {
  /** The encoded token (V2, base64url). A bearer credential: hand it over, never log it. */
  readonly token: string;
  readonly identifier: string;
  readonly keyId: string;
  readonly caveats: readonly string[];
  readonly label: string | null;
  readonly expiresAt: Date | null;
}

export interface TokenStatus {
  readonly identifier: string;
  readonly purpose: TokenPurpose;
  readonly keyId: string;
  readonly keyState: KeyView['state'] | 'unknown';
  readonly label: string | null;
  readonly subject: string | null;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revoked: boolean;
  readonly revokedAt: Date | null;
  readonly revocationReason: string | null;
  /** Not revoked, not expired, and its key still verifies. (Caveats may still restrict it.) */
  readonly active: boolean;
}

export interface RevokeInput {
  /** The token (any encoding); its identifier is revoked. */
  readonly token?: string;
  /** Or the identifier itself. */
  readonly identifier?: string;
  readonly reason?: string;
  readonly actor?: string;
}

export interface Revoked {
  readonly identifier: string;
  readonly revokedAt: Date;
  /** False when it had already been revoked (revoking is idempotent). */
  readonly created: boolean;
}

const badRequest = (message: string, details: Record<string, unknown>): TesseraError => invalidArgument(message, details);

/**
 * Check condition texts against a registry. Unknown or malformed conditions are ERR_INVALID_ARGUMENT
 * naming the field (`caveats[i]`) and the caveat; `details.caveatError` keeps the caveat code.
 */
export function checkConditions(conditions: readonly string[], registry: CaveatRegistry = defaultRegistry, field = 'caveats'): readonly string[] {
  if (!Array.isArray(conditions)) throw badRequest(`${field} must be a list of caveat conditions`, { field });
  if (conditions.length > MAX_MINT_CAVEATS) throw new TesseraError('ERR_LIMIT', `more than ${MAX_MINT_CAVEATS} caveats`, { field });
  conditions.forEach((condition, i) => {
    const name = `${field}[${i}]`;
    if (typeof condition !== 'string') throw badRequest(`${name} must be a string`, { field: name });
    try {
      registry.parse(condition);
    } catch (e) {
      if (!isTesseraError(e)) throw e;
      const reason = typeof e.details.reason === 'string' ? e.details.reason : e.message;
      const what = e.code === 'ERR_CAVEAT_UNKNOWN' ? 'is an unknown caveat' : 'is malformed';
      throw badRequest(`${name} ${what}: ${reason}`, { field: name, caveat: condition.slice(0, 256), reason, caveatError: e.code });
    }
  });
  return Object.freeze([...conditions]);
}

function optionalText(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0) throw badRequest(`${field} must be a non-empty string`, { field });
  if (value.length > MAX_LABEL_LENGTH) throw new TesseraError('ERR_LIMIT', `${field} is longer than ${MAX_LABEL_LENGTH} characters`, { field });
  return value;
}

export class Issuer {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #revocations: Pick<RevocationSet, 'add'>;
  readonly #location: string | undefined;
  readonly #clock: () => Date;
  readonly #registry: CaveatRegistry;

  constructor(options: IssuerOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#revocations = options.revocations;
    this.#location = options.location;
    this.#clock = options.clock ?? (() => new Date());
    this.#registry = options.caveats ?? defaultRegistry;
  }

  get keyring(): Keyring {
    return this.#keyring;
  }

  /** Mint a token with the current root key, record it, and audit the mint. */
  async mint(input: MintInput = {}): Promise<MintedToken> {
    const conditions = [...checkConditions(input.caveats ?? [], this.#registry)];
    const label = optionalText(input.label, 'label');
    const subject = input.replaces !== undefined ? `${REPLACES}${identifierOf({ identifier: input.replaces })}` : optionalText(input.subject, 'subject');
    const purpose = input.purpose ?? 'token';
    if (purpose !== 'token' && purpose !== 'admin' && purpose !== 'approver') throw badRequest('purpose must be "token", "admin" or "approver"', { field: 'purpose' });
    let expiresAt: Date | null = null;
    if (input.ttlSeconds !== undefined) {
      const ttl = input.ttlSeconds;
      if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
        throw badRequest(`ttl must be an integer number of seconds from 1 to ${MAX_TTL_SECONDS}`, { field: 'ttl' });
      }
      // Whole seconds, so the expiry reads plainly in the caveat and in status.
      expiresAt = new Date(Math.floor(this.#clock().getTime() / 1000) * 1000 + ttl * 1000);
      conditions.push(build.timeBefore(expiresAt));
    }
    const { id: keyId, key } = await this.#keyring.current();
    const identifier = newIdentifier(keyId, purpose);
    let token = Macaroon.mint({ rootKey: { raw: purposeKey(key, purpose) }, identifier, ...(this.#location !== undefined ? { location: this.#location } : {}) });
    for (const c of conditions) token = token.addFirstPartyCaveat(c);
    // Recorded and audited in one transaction, before the token is handed out: a token the
    // issuer has no record of could not be listed, audited or revoked by subject.
    await this.#store.transaction(async (tx) => {
      await tx.tokens.record({ identifier, rootKeyId: keyId, label, subject, expiresAt });
      await tx.audit.append({
        actor: input.actor ?? 'issuer',
        action: 'mint',
        subject: identifier,
        details: { keyId, caveats: conditions, purpose, ...(label !== null ? { label } : {}), ...(input.replaces !== undefined ? { replaces: input.replaces } : {}) },
      });
    });
    return Object.freeze({ token: token.encode(), identifier, keyId, caveats: Object.freeze(conditions), label, expiresAt });
  }

  /** What the issuer knows about a token. ERR_NOT_FOUND if it never minted it. */
  async status(identifierText: string): Promise<TokenStatus> {
    const identifier = identifierOf({ identifier: identifierText });
    const { purpose, keyId } = parseIdentifier(identifier);
    const record = await this.#store.tokens.get(identifier);
    if (record === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no token with this identifier was minted here', { field: 'identifier' });
    const [revocation, keys] = await Promise.all([this.#store.revocations.get(identifier), this.#keyring.list()]);
    const keyState = keys.find((k) => k.id === keyId)?.state ?? 'unknown';
    const now = this.#clock();
    const revoked = revocation !== undefined;
    const expired = record.expiresAt !== null && record.expiresAt <= now;
    return Object.freeze({
      identifier,
      purpose,
      keyId,
      keyState,
      label: record.label,
      subject: record.subject,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      revoked,
      revokedAt: revocation?.revokedAt ?? record.revokedAt,
      revocationReason: revocation?.reason ?? null,
      active: !revoked && !expired && keyState !== 'retired' && keyState !== 'unknown',
    });
  }

  /**
   * Revoke a token (and so every attenuation of it: they share its identifier), and any token
   * reissued to replace it. Each revocation commits with its audit row, all in one transaction
   * (listeners are notified on commit). Resolves only once it is committed, and this process
   * refuses the tokens from then on.
   */
  async revoke(input: RevokeInput): Promise<Revoked> {
    const identifier = identifierOf(input);
    const reason = optionalText(input.reason, 'reason');
    const actor = input.actor ?? 'issuer';
    const revoked: string[] = [];
    const result = await this.#store.transaction(async (tx) => {
      const record: TokenRecord | undefined = await tx.tokens.get(identifier);
      if (record === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no token with this identifier was minted here', { field: 'identifier' });
      const first = await revokeOne(tx, identifier, reason, actor, {});
      revoked.push(identifier);
      // Follow replacement chains (breadth first, bounded).
      let frontier = [identifier];
      for (let depth = 0; depth < MAX_REPLACEMENT_DEPTH && frontier.length > 0; depth++) {
        const next: string[] = [];
        for (const id of frontier) {
          for (const t of await tx.tokens.list({ subject: `${REPLACES}${id}`, limit: 1000 })) {
            await revokeOne(tx, t.identifier, reason, actor, { replacing: id });
            next.push(t.identifier);
          }
        }
        revoked.push(...next);
        frontier = next;
      }
      return first;
    });
    for (const id of revoked) this.#revocations.add(id);
    return Object.freeze({ identifier, revokedAt: result.revokedAt, created: result.created });
  }

  /** Rotate root keys (see Keyring.rotate). */
  rotateKey(options: RotateOptions = {}, actor = 'issuer'): Promise<RotateResult> {
    return this.#keyring.rotate(options, actor);
  }

  /** Every root key's metadata and state. */
  listKeys(): Promise<readonly KeyView[]> {
    return this.#keyring.list();
  }
}

/** Revoke one identifier and audit it (a repeated revocation of a replacement is not audited again). */
async function revokeOne(tx: Store, identifier: string, reason: string | null, actor: string, extra: { replacing?: string }): Promise<{ revokedAt: Date; created: boolean }> {
  const result = await tx.revocations.revoke(identifier, reason);
  if (result.created || extra.replacing === undefined) {
    await tx.audit.append({
      actor,
      action: 'revoke',
      subject: identifier,
      details: { created: result.created, ...(reason !== null ? { reason } : {}), ...extra },
    });
  }
  return result;
}

/** The identifier named by `{ token }` or `{ identifier }` (exactly one). */
export function identifierOf(input: { readonly token?: string | undefined; readonly identifier?: string | undefined }): string {
  const hasToken = input.token !== undefined && input.token !== null;
  const hasIdentifier = input.identifier !== undefined && input.identifier !== null;
  if (hasToken === hasIdentifier) throw badRequest('give either a token or an identifier', { field: hasToken ? 'identifier' : 'token' });
  if (hasIdentifier) {
    try {
      parseIdentifier(input.identifier as string);
      return input.identifier as string;
    } catch {
      throw badRequest('identifier is not a Tessera token identifier (tsr1.<key id>.<nonce>)', { field: 'identifier' });
    }
  }
  if (typeof input.token !== 'string') throw badRequest('token must be a string', { field: 'token' });
  let text: string;
  try {
    text = Macaroon.decode(input.token).identifierText;
  } catch (e) {
    throw badRequest(`token does not decode: ${isTesseraError(e) ? e.message : 'malformed'}`, { field: 'token' });
  }
  if (!isIdentifier(text)) throw badRequest('token was not minted by a Tessera issuer (unknown identifier format)', { field: 'token' });
  return text;
}
