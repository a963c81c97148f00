/**
 * A software WebAuthn authenticator for in-process tests: an ES256 key pair (node:crypto), a
 * signature counter and the byte layouts of WebAuthn §6.1 (authenticator data) and §5.8.1
 * (client data), with "none" attestation. Each answer can be bent (another origin, no user
 * verification, a counter going back) to drive the server's refusals.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

export interface Bend {
  /** The origin written into the client data (default: the authenticator's). */
  readonly origin?: string;
  /** Set the user-verified flag (default true). */
  readonly userVerified?: boolean;
  /** Use this signature counter instead of the next one. */
  readonly counter?: number;
  /** Answer as this credential id instead (base64url). */
  readonly id?: string;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

export class SoftAuthenticator {
  readonly credentialId = randomBytes(16);
  readonly #keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  counter = 0;

  constructor(readonly origin: string, readonly rpID: string) {}

  get id(): string {
    return b64url(this.credentialId);
  }

  #cosePublicKey(): Uint8Array {
    const jwk = this.#keys.publicKey.export({ format: 'jwk' });
    // COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y (RFC 9053 §7.1).
    return isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(String(jwk.x), 'base64url')],
      [-3, Buffer.from(String(jwk.y), 'base64url')],
    ]));
  }

  #authData(flags: number, counter: number, attested: boolean): Buffer {
    const head = Buffer.alloc(37);
    createHash('sha256').update(this.rpID).digest().copy(head, 0);
    head[32] = flags;
    head.writeUInt32BE(counter, 33);
    if (!attested) return head;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    return Buffer.concat([head, Buffer.alloc(16), idLength, this.credentialId, this.#cosePublicKey()]);
  }

  #clientData(type: string, challenge: string, bend: Bend): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: bend.origin ?? this.origin, crossOrigin: false }));
  }

  #flags(bend: Bend): number {
    return FLAG_UP | (bend.userVerified === false ? 0 : FLAG_UV);
  }

  /** A PublicKeyCredential's JSON around `response`. */
  #credential(bend: Bend, response: Record<string, unknown>): Record<string, unknown> {
    const id = bend.id ?? this.id;
    return { id, rawId: id, type: 'public-key', clientExtensionResults: {}, response };
  }

  /** The JSON `credential.toJSON()` gives after `navigator.credentials.create(options)`. */
  register(options: { readonly challenge: string }, bend: Bend = {}): Record<string, unknown> {
    const authData = this.#authData(this.#flags(bend) | FLAG_AT, bend.counter ?? this.counter, true);
    const attestation = new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', new Uint8Array(authData)]]);
    const attestationObject = isoCBOR.encode(attestation as Parameters<typeof isoCBOR.encode>[0]);
    return this.#credential(bend, {
      clientDataJSON: b64url(this.#clientData('webauthn.create', options.challenge, bend)),
      attestationObject: b64url(attestationObject),
      transports: ['internal'],
    });
  }

  /** The JSON `credential.toJSON()` gives after `navigator.credentials.get(options)`. */
  assert(options: { readonly challenge: string }, bend: Bend = {}): Record<string, unknown> {
    const counter = bend.counter ?? ++this.counter;
    const authData = this.#authData(this.#flags(bend), counter, false);
    const clientData = this.#clientData('webauthn.get', options.challenge, bend);
    const signed = Buffer.concat([authData, createHash('sha256').update(clientData).digest()]);
    const signature = sign('sha256', signed, this.#keys.privateKey); // DER, as WebAuthn wants for ES256
    return this.#credential(bend, {
      clientDataJSON: b64url(clientData),
      authenticatorData: b64url(authData),
      signature: b64url(signature),
      userHandle: b64url(randomBytes(16)),
    });
  }
}
