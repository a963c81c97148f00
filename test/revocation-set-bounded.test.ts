/**
 * The revoked set stays bounded by what can still verify: revocations of tokens whose recorded
 * expiry (plus the largest clock skew) has passed are not loaded and are pruned as time passes;
 * tokens without expiry, and identifiers not minted here, stay. Loading is incremental.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RevocationSet } from '../src/issuer/revocation-set.js';
import { MasterKey, createStore, type Database, type Store } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';

const MINUTE = 60_000;
const deaf = { listenRevocations: async () => async () => undefined };
let database: Database;
let store: Store;
let keyId: string;
let now = new Date('2031-03-01T12:00:00Z');
const clock = (): Date => now;
let serial = 0;

/** Record a token expiring at `expiresAt` (null: never) and revoke it; resolves to its identifier. */
async function revoked(expiresAt: Date | null): Promise<string> {
  const identifier = `tok-${++serial}`;
  await store.tokens.record({ identifier, rootKeyId: keyId, label: null, subject: null, expiresAt });
  await store.revocations.revoke(identifier);
  return identifier;
}

beforeAll(async () => {
  database = await incidentalBackend.open();
  store = createStore(database, MasterKey.generate());
  keyId = (await store.keys.create()).id;
});

describe('RevocationSet: bounded by what can still verify', () => {
  it('loads only revocations of tokens that can still verify, and moves past the rest', async () => {
    const long = await revoked(new Date(now.getTime() - 60 * MINUTE));
    const withinSkew = await revoked(new Date(now.getTime() - 2 * MINUTE)); // a verifier may allow 5 min of skew
    const live = await revoked(new Date(now.getTime() + 60 * MINUTE));
    const forever = await revoked(null);
    await store.revocations.revoke('not-minted-here');
    const set = await RevocationSet.start(deaf, store, { resyncMs: 0, clock });
    expect(set.has(long)).toBe(false);
    for (const id of [withinSkew, live, forever, 'not-minted-here']) expect(set.has(id)).toBe(true);
    expect(set.size).toBe(4);
    expect(set.lastSeq).toBe(await store.revocations.latestSeq());
    await set.close();
  });

  it('prunes entries as their tokens expire (never before expiry plus the skew margin); no-expiry entries stay', async () => {
    now = new Date('2031-03-02T12:00:00Z');
    const set = await RevocationSet.start(deaf, store, { resyncMs: 0, clock });
    const soon = await revoked(new Date(now.getTime() + 10 * MINUTE));
    const forever = await revoked(null);
    set.add(soon); // as NOTIFY delivers it: no expiry known yet
    await set.resync();
    now = new Date(now.getTime() + 14 * MINUTE); // expired 4 minutes ago: a skewed verifier could still accept it
    await set.resync();
    expect(set.has(soon)).toBe(true);
    now = new Date(now.getTime() + 2 * MINUTE);
    await set.resync();
    expect(set.has(soon)).toBe(false);
    expect(set.has(forever)).toBe(true);
    await set.close();
  });

  it('an entry heard by NOTIFY gets its expiry from the log at the next resync, and is then pruned', async () => {
    now = new Date('2031-03-03T12:00:00Z');
    const set = await RevocationSet.start(deaf, store, { resyncMs: 0, clock });
    const id = await revoked(new Date(now.getTime() + MINUTE));
    set.add(id);
    now = new Date(now.getTime() + 10 * MINUTE);
    expect(set.has(id)).toBe(true);
    await set.resync();
    expect(set.has(id)).toBe(false);
    await set.close();
  });

  it('each resync reads only what came after the last position', async () => {
    const set = await RevocationSet.start(deaf, store, { resyncMs: 0, clock });
    const before = set.lastSeq;
    const pages: number[] = [];
    const counting: Store = {
      ...store,
      revocations: {
        ...store.revocations,
        listLive: async (after, upTo, expiredBy) => {
          pages.push(after);
          return store.revocations.listLive(after, upTo, expiredBy);
        },
      },
    };
    const incremental = await RevocationSet.start(deaf, counting, { resyncMs: 0, clock });
    pages.length = 0;
    await incremental.resync();
    expect(pages).toEqual([]); // nothing new: the log is not read
    const id = await revoked(null);
    await incremental.resync();
    expect(pages).toEqual([before]);
    expect(incremental.has(id)).toBe(true);
    await Promise.all([set.close(), incremental.close()]);
  });
});
