/**
 * Approvers' WebAuthn passkeys: their credentials (public keys and signature counters), the
 * challenges of ceremonies in flight, and the groups whose members must use one.
 *
 * A challenge is bound to a browser secret (the session id, or before sign-in the sign-in
 * form's CSRF cookie), stored under that secret's SHA-256, one per binding: a newer ceremony
 * replaces an older one, taking it deletes it (single use), and past `expiresAt` it is gone.
 */
import { and, asc, count, eq, gt, lte } from 'drizzle-orm';
import { TesseraError, invalidArgument } from '../errors.js';
import { passkeyChallenges, passkeyCredentials, passkeyGroups } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkDate, checkInt, checkSecret, checkText, guard, hashSecret } from './util.js';

export interface PasskeyCredential {
  /** The credential id, base64url. */
  readonly id: string;
  readonly userName: string;
  /** COSE-encoded public key. */
  readonly publicKey: Uint8Array;
  /** The authenticator's signature counter at its last use (0 for authenticators without one). */
  readonly counter: number;
  readonly transports: readonly string[];
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export interface AddPasskeyInput {
  readonly id: string;
  readonly userName: string;
  readonly publicKey: Uint8Array;
  readonly counter: number;
  readonly transports?: readonly string[];
}

export type ChallengePurpose = 'register' | 'authenticate';

export interface PutChallengeInput {
  /** The browser secret the ceremony is bound to (only its hash is stored). */
  readonly binding: string;
  readonly purpose: ChallengePurpose;
  /** The challenge, base64url, as sent to the browser. */
  readonly challenge: string;
  /** The user registering (register); none for a sign-in. */
  readonly userName?: string;
  readonly expiresAt: Date;
}

export interface TakenChallenge {
  readonly challenge: string;
  readonly userName: string | null;
}

export interface PasskeyRepository {
  /** Store a new credential. ERR_CONFLICT if the id is registered already, ERR_NOT_FOUND if the user is not. */
  add(input: AddPasskeyInput, now?: Date): Promise<PasskeyCredential>;
  /** A credential by id, or undefined. */
  get(id: string): Promise<PasskeyCredential | undefined>;
  /** A user's credentials, oldest first. */
  listForUser(userName: string): Promise<PasskeyCredential[]>;
  /** How many credentials a user has. */
  countForUser(userName: string): Promise<number>;
  /**
   * Record a sign-in with a credential: its counter moves from `previous` to `next` (compare
   * and set). False when the counter was no longer `previous` (another use got there first).
   */
  recordUse(id: string, previous: number, next: number, now?: Date): Promise<boolean>;
  /** Remove one of `userName`'s credentials; false if they have no such credential. */
  remove(id: string, userName: string): Promise<boolean>;
  /** Store a ceremony's challenge, replacing any in flight for the same binding; expired ones are dropped. */
  putChallenge(input: PutChallengeInput, now?: Date): Promise<void>;
  /** Take (delete and return) the live challenge of `binding` for `purpose`: each works once. */
  takeChallenge(binding: string, purpose: ChallengePurpose, now?: Date): Promise<TakenChallenge | undefined>;
  /** The groups whose members must sign in and approve with a passkey, by name. */
  passkeyGroups(): Promise<string[]>;
  /** Mark a group passkey-only (true) or not; true when that changed anything. */
  setGroupRequirement(group: string, required: boolean): Promise<boolean>;
  /** The passkey-only groups whose members' approver tokens may decide anyway. */
  approverTokenGroups(): Promise<string[]>;
  /**
   * Let a passkey-only group's approver tokens decide (true) or not; true when that changed
   * anything; ERR_NOT_FOUND when the group is not passkey-only.
   */
  setGroupApproverTokens(group: string, allowed: boolean): Promise<boolean>;
}

/** WebAuthn allows credential ids up to 1023 bytes: 1364 base64url characters. */
const MAX_CREDENTIAL_ID = 1400;
/** COSE keys of the algorithms we accept (EdDSA, ES256, RS256 up to 4096 bits) fit in this. */
const MAX_PUBLIC_KEY = 1024;
const MAX_TRANSPORTS = 8;
const MAX_COUNTER = 2 ** 32 - 1;

const checkId = (id: unknown): string => checkText('credentialId', id, MAX_CREDENTIAL_ID);

function checkTransports(value: readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_TRANSPORTS) throw invalidArgument(`transports must be a list of at most ${MAX_TRANSPORTS}`, { field: 'transports' });
  return [...new Set(value.map((t) => checkText('transport', t, 32)))];
}

function checkPublicKey(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length > MAX_PUBLIC_KEY) {
    throw invalidArgument(`publicKey must be 1..${MAX_PUBLIC_KEY} bytes`, { field: 'publicKey' });
  }
  return value;
}

export function passkeyRepository(db: TesseraDb): PasskeyRepository {
  return {
    add: (input, now = new Date()) =>
      guard('add passkey', async () => {
        const [row] = await db
          .insert(passkeyCredentials)
          .values({
            id: checkId(input.id),
            userName: checkText('userName', input.userName),
            publicKey: checkPublicKey(input.publicKey),
            counter: checkInt('counter', input.counter, 0, MAX_COUNTER),
            transports: checkTransports(input.transports),
            createdAt: now,
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'add passkey returned no row');
        return row;
      }),

    get: (id) =>
      guard('read passkey', async () => {
        const [row] = await db.select().from(passkeyCredentials).where(eq(passkeyCredentials.id, checkId(id)));
        return row;
      }),

    listForUser: (userName) =>
      guard('list passkeys', async () =>
        db.select().from(passkeyCredentials).where(eq(passkeyCredentials.userName, checkText('userName', userName))).orderBy(asc(passkeyCredentials.createdAt), asc(passkeyCredentials.id)),
      ),

    countForUser: (userName) =>
      guard('count passkeys', async () => {
        const [row] = await db.select({ n: count() }).from(passkeyCredentials).where(eq(passkeyCredentials.userName, checkText('userName', userName)));
        return row?.n ?? 0;
      }),

    recordUse: (id, previous, next, now = new Date()) =>
      guard('record passkey use', async () => {
        const rows = await db
          .update(passkeyCredentials)
          .set({ counter: checkInt('counter', next, 0, MAX_COUNTER), lastUsedAt: now })
          .where(and(eq(passkeyCredentials.id, checkId(id)), eq(passkeyCredentials.counter, checkInt('previous', previous, 0, MAX_COUNTER))))
          .returning({ id: passkeyCredentials.id });
        return rows.length > 0;
      }),

    remove: (id, userName) =>
      guard('remove passkey', async () => {
        const rows = await db
          .delete(passkeyCredentials)
          .where(and(eq(passkeyCredentials.id, checkId(id)), eq(passkeyCredentials.userName, checkText('userName', userName))))
          .returning({ id: passkeyCredentials.id });
        return rows.length > 0;
      }),

    putChallenge: (input, now = new Date()) =>
      guard('store passkey challenge', async () => {
        const values = {
          bindingHash: hashSecret(checkSecret('binding', input.binding)),
          purpose: checkPurpose(input.purpose),
          challenge: checkText('challenge', input.challenge, 256),
          userName: input.userName === undefined ? null : checkText('userName', input.userName),
          createdAt: now,
          expiresAt: checkDate('expiresAt', input.expiresAt),
        };
        await db.delete(passkeyChallenges).where(lte(passkeyChallenges.expiresAt, now));
        await db
          .insert(passkeyChallenges)
          .values(values)
          .onConflictDoUpdate({ target: passkeyChallenges.bindingHash, set: { purpose: values.purpose, challenge: values.challenge, userName: values.userName, createdAt: now, expiresAt: values.expiresAt } });
      }),

    takeChallenge: (binding, purpose, now = new Date()) =>
      guard('take passkey challenge', async () => {
        const [row] = await db
          .delete(passkeyChallenges)
          .where(and(eq(passkeyChallenges.bindingHash, hashSecret(checkSecret('binding', binding))), eq(passkeyChallenges.purpose, checkPurpose(purpose)), gt(passkeyChallenges.expiresAt, now)))
          .returning({ challenge: passkeyChallenges.challenge, userName: passkeyChallenges.userName });
        return row;
      }),

    passkeyGroups: () =>
      guard('list passkey groups', async () => (await db.select({ name: passkeyGroups.name }).from(passkeyGroups).orderBy(asc(passkeyGroups.name))).map((r) => r.name)),

    setGroupRequirement: (group, required) =>
      guard('set passkey group', async () => {
        const name = checkText('group', group);
        const rows = required
          ? await db.insert(passkeyGroups).values({ name }).onConflictDoNothing().returning({ name: passkeyGroups.name })
          : await db.delete(passkeyGroups).where(eq(passkeyGroups.name, name)).returning({ name: passkeyGroups.name });
        return rows.length > 0;
      }),

    approverTokenGroups: () =>
      guard('list passkey groups', async () =>
        (await db.select({ name: passkeyGroups.name }).from(passkeyGroups).where(eq(passkeyGroups.allowApproverTokens, true)).orderBy(asc(passkeyGroups.name))).map((r) => r.name),
      ),

    setGroupApproverTokens: (group, allowed) =>
      guard('set passkey group', async () => {
        const name = checkText('group', group);
        const [row] = await db.select({ allowed: passkeyGroups.allowApproverTokens }).from(passkeyGroups).where(eq(passkeyGroups.name, name));
        if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', `group ${name} is not passkey-only: its approver tokens decide already`, { field: 'group' });
        if (row.allowed === allowed) return false;
        await db.update(passkeyGroups).set({ allowApproverTokens: allowed }).where(eq(passkeyGroups.name, name));
        return true;
      }),
  };
}

function checkPurpose(value: unknown): ChallengePurpose {
  if (value !== 'register' && value !== 'authenticate') throw invalidArgument('purpose must be register or authenticate', { field: 'purpose' });
  return value;
}
