/**
 * The issuer service: identifiers, root keys (Keyring), the in-memory revoked set kept in sync
 * across processes (RevocationSet), the Issuer itself, a Verifier wired to all three, and the
 * issuer's HTTP routes.
 */
export { IDENTIFIER_PREFIX, KEY_ID, isIdentifier, newIdentifier, parseIdentifier } from './identifier.js';
export type { ParsedIdentifier, TokenPurpose } from './identifier.js';
export { DEFAULT_GRACE_SECONDS, Keyring, MAX_GRACE_SECONDS } from './keyring.js';
export type { KeyView, KeyringOptions, RotateOptions, RotateResult } from './keyring.js';
export { RevocationSet } from './revocation-set.js';
export type { RevocationSetOptions } from './revocation-set.js';
export { Issuer, MAX_MINT_CAVEATS, MAX_TTL_SECONDS, checkConditions, identifierOf } from './issuer.js';
export type { IssuerOptions, MintInput, MintedToken, Revoked, RevokeInput, TokenStatus } from './issuer.js';
export { createVerifier, usageCounter } from './verifier.js';
export type { IssuerVerifierOptions } from './verifier.js';
export { ADMIN_AUDIENCE, ADMIN_CAVEATS, ADMIN_OPS, issuerRoutes } from './routes.js';
export type { IssuerRoutesOptions } from './routes.js';
