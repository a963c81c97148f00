/**
 * The Macaroon value: an identifier, a list of caveats, and an HMAC-SHA256 chain over them.
 *
 * Construction follows libmacaroons bit for bit, so tokens interoperate with go-macaroon,
 * js-macaroon and pymacaroons:
 *   sig0 = HMAC(derive(rootKey), identifier)
 *   first-party:  sig = HMAC(sig, condition)
 *   third-party:  vid = nonce || secretbox(key=sig, derive(caveatKey));
 *                 sig = HMAC(sig, HMAC(sig, vid) || HMAC(sig, cid))
 *   binding:      bound = HMAC(0^32, HMAC(0^32, primarySig) || HMAC(0^32, dischargeSig))
 *
 * Values are immutable: adding a caveat returns a new Macaroon, and getters hand out copies.
 */
import { invalidArgument } from '../errors.js';
import { constantTimeEqual, utf8, utf8Strict } from '../crypto/bytes.js';
import { hmacSha256, hmacSha256OfPair } from '../crypto/hmac.js';
import { deriveKey, sealCaveatKey, type KeyInput } from '../crypto/keys.js';
import { decodeData, encodeData, encodeV2, toJSONObject, type EncodedMacaroon, type Format } from './codec.js';
import type { CaveatData, MacaroonData } from './data.js';
import type { MacaroonJSON } from './json.js';
import { resolveLimits, type Limits } from './limits.js';

export type Bytes = string | Uint8Array;

/** A caveat as the public API shows it (copies; mutating them changes nothing). */
export interface Caveat {
  readonly identifier: Uint8Array;
  /** The identifier as text when it is UTF-8 (always, for first-party conditions). */
  readonly text: string | undefined;
  readonly verificationId?: Uint8Array;
  readonly location?: string;
  readonly thirdParty: boolean;
}

export interface ThirdPartyCaveatOptions {
  /** The secret shared with the discharger: it becomes the discharge's root key. */
  readonly caveatKey: KeyInput;
  /** The ticket the discharger reads (for Tessera's discharger, a sealed bakery caveat id). */
  readonly identifier: Bytes;
  /** Where the discharger lives. */
  readonly location: string;
}

const ZERO_KEY = new Uint8Array(32);

/** Text that UTF-8 can carry: a lone surrogate would silently become U+FFFD when encoded. */
const wellFormed = (text: string, what: string): string => {
  if (!text.isWellFormed()) throw invalidArgument(`${what} is not valid Unicode (lone surrogate)`, { field: what });
  return text;
};

const locationText = (value: unknown): string => {
  if (typeof value !== 'string') throw invalidArgument('location must be a string', { field: 'location' });
  return wellFormed(value, 'location');
};

const toBytes = (value: Bytes, what: string): Uint8Array => {
  if (typeof value === 'string') return utf8(wellFormed(value, what));
  if (value instanceof Uint8Array) return value.slice();
  throw invalidArgument(`${what} must be a string or bytes`, { field: what });
};

/** sig' = HMAC(sig, HMAC(sig, a) || HMAC(sig, b)), the third-party and binding step. */
export const hmac2 = hmacSha256OfPair;

/** Bind a discharge's signature to the primary's, as go-macaroon and js-macaroon do. */
export function bindSignature(primarySig: Uint8Array, dischargeSig: Uint8Array): Uint8Array {
  if (constantTimeEqual(primarySig, dischargeSig)) return primarySig.slice();
  return hmac2(ZERO_KEY, primarySig, dischargeSig);
}

function normalise(data: MacaroonData): MacaroonData {
  const caveats = data.caveats.map((c) => {
    const out: { identifier: Uint8Array; verificationId?: Uint8Array; location?: string } = { identifier: c.identifier };
    if (c.verificationId !== undefined) out.verificationId = c.verificationId;
    if (c.location !== undefined && c.location !== '') out.location = c.location;
    return Object.freeze(out);
  });
  return Object.freeze({
    identifier: data.identifier,
    caveats: Object.freeze(caveats),
    signature: data.signature,
    ...(data.location !== undefined && data.location !== '' ? { location: data.location } : {}),
  });
}

let readData: (m: Macaroon) => MacaroonData;
let withNonce: (m: Macaroon, options: ThirdPartyCaveatOptions, nonce: Uint8Array) => Macaroon;

/** @internal The macaroon's data without copying, for the verifier's hot path. Do not mutate. */
export const dataOf = (m: Macaroon): MacaroonData => {
  if (!(m instanceof Macaroon)) throw invalidArgument('expected a Macaroon (decode encoded tokens with Macaroon.decode)', { field: 'macaroon' });
  return readData(m);
};

/**
 * @internal Test-only: add a third-party caveat with a chosen nonce, to reproduce published
 * vectors. Never use a fixed nonce for real tokens. Not exported from the package.
 */
export const addThirdPartyCaveatWithNonce = (m: Macaroon, options: ThirdPartyCaveatOptions, nonce: Uint8Array): Macaroon =>
  withNonce(m, options, nonce);

export class Macaroon {
  readonly #data: MacaroonData;

  private constructor(data: MacaroonData) {
    this.#data = normalise(data);
    Object.freeze(this);
  }

  /** Mint a new macaroon from a root key. */
  static mint(options: { readonly rootKey: KeyInput; readonly identifier: Bytes; readonly location?: string }): Macaroon {
    const identifier = toBytes(options.identifier, 'identifier');
    const loc = options.location === undefined ? undefined : locationText(options.location);
    const signature = hmacSha256(deriveKey(options.rootKey, 'rootKey'), identifier);
    return new Macaroon({ identifier, caveats: [], signature, ...(loc !== undefined ? { location: loc } : {}) });
  }

  /**
   * Decode a macaroon from V2 or V1 binary, base64 of either (any alphabet, padded or not),
   * V2 JSON text, or the JSON object. Strict: anything else throws ERR_MALFORMED or ERR_LIMIT.
   */
  static decode(input: EncodedMacaroon, limits?: Partial<Limits>): Macaroon {
    return new Macaroon(decodeData(input, resolveLimits(limits)));
  }

  get identifier(): Uint8Array {
    return this.#data.identifier.slice();
  }

  /** The identifier as UTF-8 text; throws ERR_MALFORMED if it is binary. */
  get identifierText(): string {
    return utf8Strict(this.#data.identifier, 'macaroon identifier');
  }

  get location(): string | undefined {
    return this.#data.location;
  }

  get signature(): Uint8Array {
    return this.#data.signature.slice();
  }

  get caveats(): readonly Caveat[] {
    return Object.freeze(
      this.#data.caveats.map((c) => {
        let text: string | undefined;
        try {
          text = utf8Strict(c.identifier, 'caveat');
        } catch {
          text = undefined;
        }
        return Object.freeze({
          identifier: c.identifier.slice(),
          text,
          thirdParty: c.verificationId !== undefined,
          ...(c.verificationId !== undefined ? { verificationId: c.verificationId.slice() } : {}),
          ...(c.location !== undefined ? { location: c.location } : {}),
        });
      }),
    );
  }

  static {
    readData = (m) => m.#data;
    withNonce = (m, options, nonce) => m.#addThirdParty(options, nonce);
  }

  #with(caveat: CaveatData, signature: Uint8Array): Macaroon {
    return new Macaroon({ ...this.#data, caveats: [...this.#data.caveats, caveat], signature });
  }

  /** A new macaroon with one more first-party condition. It can only lose power. */
  addFirstPartyCaveat(condition: Bytes): Macaroon {
    const identifier = toBytes(condition, 'condition');
    if (identifier.length === 0) throw invalidArgument('a caveat condition must not be empty', { field: 'condition' });
    return this.#with({ identifier }, hmacSha256(this.#data.signature, identifier));
  }

  /** A new macaroon with a third-party caveat that only a discharge from `location` satisfies. */
  addThirdPartyCaveat(options: ThirdPartyCaveatOptions): Macaroon {
    return this.#addThirdParty(options, undefined);
  }

  #addThirdParty(options: ThirdPartyCaveatOptions, nonce: Uint8Array | undefined): Macaroon {
    const identifier = toBytes(options.identifier, 'identifier');
    if (identifier.length === 0) throw invalidArgument('a third-party caveat identifier must not be empty', { field: 'identifier' });
    const loc = locationText(options.location);
    const verificationId = sealCaveatKey(this.#data.signature, deriveKey(options.caveatKey, 'caveatKey'), nonce);
    return this.#with({ identifier, verificationId, location: loc }, hmac2(this.#data.signature, verificationId, identifier));
  }

  /** Called on the primary: returns `discharge` bound to this macaroon's signature. */
  bindForRequest(discharge: Macaroon): Macaroon {
    if (!(discharge instanceof Macaroon)) throw invalidArgument('bindForRequest takes a Macaroon', { field: 'discharge' });
    return new Macaroon({ ...discharge.#data, signature: bindSignature(this.#data.signature, discharge.#data.signature) });
  }

  /** Encode: `'v2'` (default, unpadded base64url of V2 binary), `'v1'`, or `'json'` (V2 JSON). */
  encode(format: Format = 'v2'): string {
    return encodeData(this.#data, format);
  }

  /** V2 binary. */
  toBytes(): Uint8Array {
    return encodeV2(this.#data);
  }

  /**
   * The V2 JSON object (`JSON.stringify` of it is `encode('json')`). Deliberately not named
   * `toJSON`: a logger serialising an object that holds a Macaroon must not write the token.
   */
  toJSONObject(): MacaroonJSON {
    return toJSONObject(this.#data);
  }

  /** Never print a token by accident: its encoding is a bearer credential. */
  toString(): string {
    return '[Macaroon]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Macaroon { caveats: ${this.#data.caveats.length} }`;
  }
}
