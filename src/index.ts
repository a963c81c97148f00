/**
 * Tessera: macaroon capability tokens. The root export is the pure token library: minting,
 * attenuation, codecs and signature verification. Services live under their own subpaths.
 */
export { Macaroon, bindSignature } from './macaroon/macaroon.js';
export type { Bytes, Caveat, ThirdPartyCaveatOptions } from './macaroon/macaroon.js';
export { verifySignature } from './macaroon/verify.js';
export type { VerifiedMacaroon, VerifySignatureOptions } from './macaroon/verify.js';
export type { EncodedMacaroon, Format } from './macaroon/codec.js';
export type { MacaroonJSON, MacaroonJSONCaveat } from './macaroon/json.js';
export { DEFAULT_LIMITS } from './macaroon/limits.js';
export type { Limits } from './macaroon/limits.js';
export type { KeyInput } from './crypto/keys.js';
export { TesseraError, isTesseraError } from './errors.js';
export type { ErrorCode, ErrorDetails } from './errors.js';
