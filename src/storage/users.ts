/**
 * Approvers of the discharge service. Passwords arrive already hashed (scrypt, self-describing
 * string with salt and parameters): hashing and verifying are the caller's job, storage never
 * sees a password.
 */
import { asc, eq } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { users } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkFlag, checkText, guard } from './util.js';

export interface User {
  readonly name: string;
  /** The encoded scrypt hash; treat as secret-ish (never log it). */
  readonly passwordHash: string;
  readonly groups: readonly string[];
  readonly createdAt: Date;
  /** Signs in and approves only with a passkey (src/discharge/web/passkey-policy.ts). */
  readonly requirePasskey: boolean;
}

export interface CreateUserInput {
  readonly name: string;
  readonly passwordHash: string;
  readonly groups?: readonly string[];
  /** Default false. */
  readonly requirePasskey?: boolean;
}

export interface UpdateUserInput {
  readonly passwordHash?: string;
  readonly groups?: readonly string[];
  readonly requirePasskey?: boolean;
}

export interface UserRepository {
  /** Add a user. ERR_CONFLICT if the name is taken. */
  create(input: CreateUserInput): Promise<User>;
  /** A user by name, or undefined. */
  get(name: string): Promise<User | undefined>;
  /** All users by name. */
  list(): Promise<User[]>;
  /** Change password hash and/or groups. ERR_NOT_FOUND if unknown. */
  update(name: string, changes: UpdateUserInput): Promise<User>;
  /** Delete a user (and, by cascade, their sessions); false if there was none. */
  remove(name: string): Promise<boolean>;
}

const MAX_GROUPS = 100;

function checkGroups(groups: readonly string[] | undefined): string[] {
  if (groups === undefined) return [];
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS) {
    throw new TesseraError('ERR_INVALID_ARGUMENT', `groups must be a list of at most ${MAX_GROUPS} names`, { field: 'groups' });
  }
  return [...new Set(groups.map((g) => checkText('group', g)))];
}

export function userRepository(db: TesseraDb): UserRepository {
  return {
    create: (input) =>
      guard('create user', async () => {
        const [row] = await db
          .insert(users)
          .values({
            name: checkText('name', input.name),
            passwordHash: checkText('passwordHash', input.passwordHash),
            groups: checkGroups(input.groups),
            requirePasskey: checkFlag('requirePasskey', input.requirePasskey),
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'create user returned no row');
        return row;
      }),

    get: (name) =>
      guard('read user', async () => {
        const [row] = await db.select().from(users).where(eq(users.name, checkText('name', name)));
        return row;
      }),

    list: () => guard('list users', async () => db.select().from(users).orderBy(asc(users.name))),

    update: (name, changes) =>
      guard('update user', async () => {
        checkText('name', name);
        const set: { passwordHash?: string; groups?: string[]; requirePasskey?: boolean } = {};
        if (changes.passwordHash !== undefined) set.passwordHash = checkText('passwordHash', changes.passwordHash);
        if (changes.groups !== undefined) set.groups = checkGroups(changes.groups);
        if (changes.requirePasskey !== undefined) set.requirePasskey = checkFlag('requirePasskey', changes.requirePasskey);
        const [row] =
          Object.keys(set).length === 0
            ? await db.select().from(users).where(eq(users.name, name))
            : await db.update(users).set(set).where(eq(users.name, name)).returning();
        if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such user', { field: 'name' });
        return row;
      }),

    remove: (name) =>
      guard('delete user', async () => {
        const rows = await db.delete(users).where(eq(users.name, checkText('name', name))).returning({ name: users.name });
        return rows.length > 0;
      }),
  };
}
