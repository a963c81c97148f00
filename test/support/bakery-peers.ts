/** test/fixtures/bakery/peers.json: what the real Go and Python libraries wrote (generate.sh). */
import { readFileSync } from 'node:fs';

export interface PeerMacaroon {
  readonly name: string;
  readonly rootKey: string;
  readonly json: string;
  readonly v2: string;
}
export interface PeerBakery {
  readonly version: number;
  readonly rootKey: string;
  readonly bakeryJSON: string;
}
export interface PeerFixture {
  readonly discharger: { readonly privateKey: string; readonly publicKey: string; readonly location: string };
  readonly go: { readonly macaroons: readonly PeerMacaroon[]; readonly bakery: readonly PeerBakery[] };
  readonly python: { readonly macaroons: readonly PeerMacaroon[]; readonly bakery: readonly PeerBakery[] };
}

export const peers = JSON.parse(readFileSync(new URL('../fixtures/bakery/peers.json', import.meta.url), 'utf8')) as PeerFixture;
