/**
 * A discharge service on a test database, served by its hono routes, with a Verifier for the
 * tokens it discharges: what the discharge and client tests (and the approval benchmark) share.
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { Macaroon } from '../../src/macaroon/macaroon.js';
import { Verifier } from '../../src/verifier/index.js';
import { createDischargeService, dischargeRoutes, type DischargeService, type DischargeServiceOptions } from '../../src/discharge/index.js';
import { MasterKey, createStore, type Database, type Store } from '../../src/storage/index.js';
import type { FetchLike } from '../../src/client/index.js';

export const LOCATION = 'https://tessera.test';

export interface DischargeFixture {
  readonly store: Store;
  readonly service: DischargeService;
  readonly app: Hono;
  /** `fetch` served by `app` (no network). */
  readonly fetch: FetchLike;
  /** The issuer's root key for `mint`. */
  readonly rootKey: Uint8Array;
  /** A Verifier for tokens minted by `mint`, counting uses in the store. */
  readonly verifier: Verifier;
  /** A primary token with the given first-party caveats. */
  mint(...caveats: string[]): Macaroon;
}

export interface FixtureOptions extends Partial<Omit<DischargeServiceOptions, 'store'>> {
  readonly masterKey?: MasterKey;
  readonly rootKey?: Uint8Array;
  readonly now?: () => Date;
}

export async function dischargeFixture(database: Database, options: FixtureOptions = {}): Promise<DischargeFixture> {
  const store = createStore(database, options.masterKey ?? MasterKey.generate());
  const service = await createDischargeService({ location: LOCATION, ...options, store });
  const app = new Hono().route('/', dischargeRoutes(service));
  const rootKey = options.rootKey ?? new Uint8Array(randomBytes(32));
  const verifier = new Verifier({
    rootKeyFor: () => rootKey,
    usage: { consume: (scope, limit) => store.usage.consumeUse(scope, limit) },
    ...(options.now !== undefined ? { clock: options.now } : {}),
  });
  const fetch: FetchLike = async (url, init) => app.request(url, init);
  let n = 0;
  const mint = (...caveats: string[]): Macaroon =>
    caveats.reduce((m, c) => m.addFirstPartyCaveat(c), Macaroon.mint({ rootKey, identifier: `token-${++n}-${randomBytes(4).toString('hex')}`, location: 'https://api.test' }));
  return { store, service, app, fetch, rootKey, verifier, mint };
}

/** Approvers used across the tests. */
export const ALICE = Object.freeze({ name: 'alice', groups: Object.freeze(['ops']) });
export const BOB = Object.freeze({ name: 'bob', groups: Object.freeze(['dev']) });
export const CAROL = Object.freeze({ name: 'carol', groups: Object.freeze(['ops', 'dev']) });
