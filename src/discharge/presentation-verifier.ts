/**
 * The issuer side of "who asks": verify a presentation against this Tessera's own keyring.
 *
 * *Verified* means, and only means: the token was minted by this Tessera (its identifier names
 * one of our root keys, and the issuer recorded it), its whole HMAC chain verifies under that
 * key, it is not revoked, and it carries the very third-party caveat being asked about. Its
 * third-party caveats need no discharge for this (the one asked about cannot have one yet), and
 * its first-party caveats are not judged against any request (there is none): they are shown,
 * in plain words, as caveats the token verifiably carries. Anything short of that is
 * *unverified*, with the reason, and nothing from the token is shown as fact.
 */
import { constantTimeEqual, utf8Strict } from '../crypto/bytes.js';
import { isTesseraError } from '../errors.js';
import type { Keyring } from '../issuer/keyring.js';
import { verifySignature } from '../macaroon/verify.js';
import type { Store } from '../storage/index.js';
import type { RevocationCheck } from '../verifier/index.js';
import type { PresentationVerifier, Shown } from '../tickets/presentation.js';

export interface IssuerPresentationOptions {
  readonly keyring: Pick<Keyring, 'rootKeyFor'>;
  readonly revocations: RevocationCheck;
  readonly store: Pick<Store, 'tokens' | 'audit'>;
}

const unverified = (why: string): Shown => ({ kind: 'unverified', why });

/** A PresentationVerifier over the issuer's keyring, revocations and token records. */
export function issuerPresentations(options: IssuerPresentationOptions): PresentationVerifier {
  const { keyring, revocations, store } = options;
  return async (presentation, caveatId) => {
    let identifier: string;
    try {
      identifier = utf8Strict(presentation.identifier, 'identifier');
      const key = await keyring.rootKeyFor(identifier, 'token');
      verifySignature(presentation, key, [], { undischarged: 'ignore' });
    } catch (e) {
      if (!isTesseraError(e)) throw e;
      if (e.code === 'ERR_SIGNATURE') return unverified('its signature does not verify: forged or altered');
      if (e.code === 'ERR_KEY_RETIRED') return unverified('it was minted with a retired key');
      if (e.code === 'ERR_MALFORMED' || e.code === 'ERR_LIMIT') return unverified('it is malformed');
      return unverified('it was not issued by this Tessera');
    }
    if (await revocations.isRevoked(presentation.identifier)) return unverified('it has been revoked');
    const asked = presentation.caveats.some((c) => c.thirdParty && c.identifier.length === caveatId.length && constantTimeEqual(c.identifier, caveatId));
    if (!asked) return unverified('it does not carry the caveat asked about');
    const record = await store.tokens.get(identifier);
    if (record === undefined) return unverified('this Tessera has no record of minting it');
    const [minted] = await store.audit.list({ subject: identifier, action: 'mint', limit: 1, newestFirst: false });
    const first = presentation.caveats.filter((c) => !c.thirdParty).map((c) => c.text ?? '');
    return {
      kind: 'verified',
      token: {
        identifier,
        label: record.label,
        subject: record.subject,
        mintedAt: record.createdAt.toISOString(),
        mintedBy: minted?.actor ?? null,
        // The presentation's own aud and time-before (checked by the service) are not the token's.
        caveats: first.slice(0, -2),
        thirdParty: presentation.caveats.filter((c) => c.thirdParty).map((c) => c.location ?? ''),
      },
    };
  };
}
