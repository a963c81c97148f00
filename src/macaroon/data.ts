/**
 * The plain data of a macaroon, shared by the codecs and the Macaroon class. Codecs produce
 * and consume this shape; only Macaroon gives it behaviour.
 */
export interface CaveatData {
  /** The caveat identifier: a first-party condition, or a third-party ticket. */
  readonly identifier: Uint8Array;
  /** Present only on third-party caveats: the caveat key sealed under the signature so far. */
  readonly verificationId?: Uint8Array;
  /** Third-party caveats: where the discharger lives (a hint, not signed). */
  readonly location?: string;
}

export interface MacaroonData {
  readonly location?: string;
  readonly identifier: Uint8Array;
  readonly caveats: readonly CaveatData[];
  readonly signature: Uint8Array;
}

export const SIGNATURE_LENGTH = 32;
