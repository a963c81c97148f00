/**
 * A Verifier wired to the issuer's state: root keys from the in-memory Keyring, revocations
 * from the in-memory RevocationSet, and `uses n` counted atomically in the shared database.
 * Any number of processes on one PostgreSQL can each hold one.
 */
import type { CaveatRegistry } from '../../caveats/index.js';
import type { Limits } from '../macaroon/limits.js';
import type { Store } from '../storage/index.js';
import { Verifier, type RevocationCheck, type UsageCounter } from '../verifier/index.js';
import type { TokenPurpose } from './identifier.js';
import type { Keyring } from './keyring.js';

export interface IssuerVerifierOptions {
  readonly keyring: Pick<Keyring, 'rootKeyFor'>;
  readonly revocations: RevocationCheck;
  readonly store: Pick<Store, 'usage'>;
  /** Which tokens this verifier accepts: application tokens (default) or admin tokens. */
  readonly purpose?: TokenPurpose;
  readonly audience?: string;
  readonly clock?: () => Date;
  readonly clockSkewMs?: number;
  readonly caveats?: CaveatRegistry;
  readonly cache?: false | { readonly maxEntries?: number };
  readonly limits?: Partial<Limits>;
}

/** The store's atomic counter as the Verifier's usage hook. */
export const usageCounter = (store: Pick<Store, 'usage'>): UsageCounter => ({
  consume: (scope, limit) => store.usage.consumeUse(scope, limit),
});

export function createVerifier(options: IssuerVerifierOptions): Verifier {
  const { keyring, revocations, store, purpose = 'token', ...rest } = options;
  return new Verifier({
    ...rest,
    rootKeyFor: (identifier) => keyring.rootKeyFor(identifier, purpose),
    revocations,
    usage: usageCounter(store),
  });
}
