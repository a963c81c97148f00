/** Typed access to the published macaroon vectors in test/fixtures/macaroons.json. */
import { readFileSync } from 'node:fs';

export interface FirstPartyVector {
  source: string;
  rootKey: string;
  identifier: string;
  location: string;
  caveats: string[];
  signature: string;
  v1: string;
  v2: string;
}

export interface Vectors {
  firstParty: FirstPartyVector[];
  verifierOutcomes: { rootKey: string; macaroon: string; satisfy: string[]; authorized: boolean; v2: string }[];
  thirdParty: (Omit<FirstPartyVector, 'caveats'> & {
    firstPartyCaveat: string;
    signatureAfterFirstParty: string;
    thirdPartyCaveat: { location: string; caveatKey: string; caveatId: string; nonceHex: string; vid: string };
    discharge: { rootKey: string; identifier: string; location: string; caveats: string[]; signature: string; v2: string; boundSignature: string; boundV2: string };
  })[];
  bind: { source: string; rootSignatureUtf8: string; dischargeSignature: string; bound: string }[];
  bakeryCaveatIds: {
    thirdPartyPrivateKey: string;
    thirdPartyPublicKey: string;
    firstPartyPrivateKey: string;
    firstPartyPublicKey: string;
    ids: { version: 2 | 3; id: string; rootKeyBase64: string; condition: string; namespace?: string }[];
  };
}

export const vectors: Vectors = JSON.parse(readFileSync(new URL('../fixtures/macaroons.json', import.meta.url), 'utf8')) as Vectors;

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
