/**
 * Approver accounts: add one, change a password, list, remove, invite someone and let them enrol
 * through the link. Each change commits with its audit row in one transaction. The admin API
 * (`/v1/users`, `/v1/invites`), the enrolment page and `tessera users` on a stopped embedded
 * database all call this one module, so the paths cannot drift apart.
 *
 * Passwords arrive in the clear, are checked (length) and hashed here (scrypt), and go nowhere
 * else: not into the audit log, not into an answer. Invitation secrets are 256 random bits,
 * handed out once and stored only as their SHA-256 (storage/invites.ts).
 *
 * Someone enrolling with a passkey instead gets an account that is passkey-only and has no
 * usable password: its password hash is that of 256 random bits nobody ever sees, so no
 * password verifies, and a sign-in attempt costs the same scrypt as for anyone else (a
 * password sign-in does not tell such accounts apart). Should they never register that passkey
 * (the browser closed, the ceremony failed), the account has no way in: an admin may invite the
 * same name again, to the same groups, while it is passkey-only and has no passkey, and the new
 * link lets them finish (with a passkey, or a password that serves only to register one).
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { base64url } from '../crypto/bytes.js';
import { TesseraError, invalidArgument } from '../errors.js';
import type { AuditChannel, Invite, Store, User } from '../storage/index.js';
import { NAME_PATTERN } from '../tickets/conditions.js';
import { checkNewPassword, checkScryptParams, hashPassword, type ScryptParams } from './web/passwords.js';

/** Where an invitation link leads: the enrolment page, under the approval pages. */
export const ENROL_PATH = '/approve/enrol/';

/** The enrolment page's URL for an invitation secret. */
export const inviteUrl = (publicUrl: string, token: string): string => `${publicUrl.replace(/\/+$/, '')}${ENROL_PATH}${encodeURIComponent(token)}`;

/** How long an invitation link can be used. */
export const INVITE_TTL_SECONDS = 24 * 60 * 60;

/** A user as the API and the CLI show one (never the password hash). */
export interface UserView {
  readonly name: string;
  readonly groups: readonly string[];
  readonly createdAt: Date;
}

export interface NewUser {
  readonly name: string;
  readonly groups: readonly string[];
  readonly password: string;
  /** The user signs in and approves only with a passkey (the password lets them in once, to register one). */
  readonly requirePasskey?: boolean;
}

/** An invitation just made: `token` is the link's secret, shown this once. */
export interface NewInvite {
  readonly token: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly expiresAt: Date;
}

/** Who made a change and through what, for the audit log. */
export interface Actor {
  /** `cli`, `admin:<identifier>`, or the user themselves. */
  readonly actor: string;
  readonly channel?: AuditChannel;
}

export interface AccountsOptions {
  readonly store: Store;
  /** The time invitations are made and judged at (default: the system clock). */
  readonly clock?: () => Date;
  /** Password hashing cost (default DEFAULT_SCRYPT), checked now: ERR_INVALID_ARGUMENT when out of bounds. */
  readonly scrypt?: ScryptParams;
}

export interface Accounts {
  /** Add a user. ERR_CONFLICT when the name is taken. */
  add(user: NewUser, by: Actor): Promise<UserView>;
  /** Set a new password and end the user's browser sessions. ERR_NOT_FOUND for an unknown user. */
  setPassword(name: string, password: string, by: Actor): Promise<{ readonly sessionsEnded: number }>;
  list(): Promise<UserView[]>;
  /** One user, or undefined. */
  get(name: string): Promise<UserView | undefined>;
  /** Remove a user (their sessions end with them). ERR_NOT_FOUND for an unknown user. */
  remove(name: string, by: Actor): Promise<void>;
  /**
   * A one-time link for `name` to set their own password or passkey, valid INVITE_TTL_SECONDS.
   * ERR_CONFLICT when the user already exists, unless it is passkey-only with no passkey yet (a
   * passkey enrolment never finished) and `groups` are its groups: then the link lets them finish.
   */
  invite(user: { readonly name: string; readonly groups: readonly string[] }, by: Actor): Promise<NewInvite>;
  /** The invitation behind a link, if it can still be used; ERR_NOT_FOUND / ERR_CONFLICT otherwise. */
  pendingInvite(token: string): Promise<Invite>;
  /**
   * Use the link: the user is created with this password and the invitation is spent, in one
   * transaction (a refused password or a taken name leaves the link usable).
   */
  enrol(token: string, password: string): Promise<UserView>;
  /**
   * Use the link to enrol with a passkey: the user is created passkey-only (`requirePasskey`)
   * with no usable password and the invitation is spent, in one transaction. The caller signs
   * them in to register their passkey.
   */
  enrolWithPasskey(token: string): Promise<UserView>;
  /** Every group a user names or a setting keeps, by name: its members and its settings. */
  groups(): Promise<GroupView[]>;
  /**
   * Change one setting of a group, with its audit row (`group-<setting>`) in one transaction;
   * true when it changed, false when it already was so. A group need not have members yet.
   * ERR_NOT_FOUND for approver tokens of a group that is not passkey-only.
   */
  setGroup(name: string, setting: GroupSetting, by: Actor): Promise<boolean>;
}

/** A group as the API and the CLI show one. */
export interface GroupView {
  readonly name: string;
  readonly members: readonly string[];
  /** Members sign in and approve only with a passkey. */
  readonly requirePasskey: boolean;
  /** Passkey-only, and its members' approver tokens may approve its requests all the same. */
  readonly approverTokens: boolean;
}

/** The settings of a group, named as `tessera groups` names them. */
export const GROUP_SETTINGS = ['require-passkey', 'allow-password', 'allow-approver-tokens', 'refuse-approver-tokens'] as const;
export type GroupSetting = (typeof GROUP_SETTINGS)[number];

const MAX_GROUPS = 100;

/** A user or group name as the discharge conditions can name it; ERR_INVALID_ARGUMENT otherwise. */
export function checkAccountName(kind: 'user' | 'group', name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalidArgument(`a ${kind} name must be 1-64 of a-z 0-9 . _ - starting with a letter or digit`, { field: kind });
  }
  return name;
}

function checkGroups(groups: unknown): string[] {
  if (!Array.isArray(groups) || groups.length === 0) throw invalidArgument('a user needs at least one group', { field: 'groups' });
  if (groups.length > MAX_GROUPS) throw new TesseraError('ERR_LIMIT', `at most ${MAX_GROUPS} groups`, { field: 'groups' });
  return [...new Set(groups.map((g) => checkAccountName('group', g)))];
}

const sameGroups = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((g) => b.includes(g));

const viewOf = (u: User): UserView => Object.freeze({ name: u.name, groups: Object.freeze([...u.groups]), createdAt: u.createdAt });

const noSuchUser = (name: string): TesseraError => new TesseraError('ERR_NOT_FOUND', `there is no user ${name}`, { field: 'name' });

export function createAccounts(options: AccountsOptions): Accounts {
  const { store } = options;
  const clock = options.clock ?? (() => new Date());
  const scrypt = options.scrypt !== undefined ? checkScryptParams(options.scrypt) : undefined;
  const hash = async (password: unknown): Promise<string> => hashPassword(checkNewPassword(password), scrypt);
  const audited = (by: Actor, action: string, subject: string, details: Record<string, string | readonly string[]> = {}) =>
    ({ actor: by.actor, action, subject, details, ...(by.channel !== undefined ? { channel: by.channel } : {}) }) as const;

  /** Create the user unless the name is taken (checked inside the transaction, and by the key). */
  const create = async (tx: Store, name: string, groups: readonly string[], passwordHash: string, requirePasskey = false): Promise<User> => {
    if ((await tx.users.get(name)) !== undefined) throw new TesseraError('ERR_CONFLICT', `there is already a user ${name}`, { field: 'name' });
    return tx.users.create({ name, groups, passwordHash, requirePasskey });
  };

  /** A passkey-only account that has no passkey: an enrolment never finished (see the module comment). */
  const unfinished = async (tx: Store, u: User): Promise<boolean> => u.requirePasskey && (await tx.passkeys.countForUser(u.name)) === 0;

  /**
   * Spend the invitation and create its user, with the audit row, in one transaction. An
   * invitation to finish an enrolment (the user exists) signs them in to register a passkey, with
   * the password they chose as the way back until they have one.
   */
  const redeem = async (token: string, passwordHash: string, method: 'password' | 'passkey'): Promise<UserView> => {
    const now = clock();
    const created = await store.transaction(async (tx) => {
      const invite = await tx.invites.redeem(token, now);
      const existing = await tx.users.get(invite.userName);
      if (existing !== undefined) {
        // Checked again: a passkey registered since the invitation makes it one too many.
        if (!(await unfinished(tx, existing))) throw new TesseraError('ERR_CONFLICT', `there is already a user ${existing.name}`, { field: 'name' });
        const u = method === 'password' ? await tx.users.update(existing.name, { passwordHash }) : existing;
        await tx.audit.append({ actor: u.name, action: 'user-enrol', subject: u.name, details: { groups: [...u.groups], invitedBy: invite.createdBy, method, finishing: 'true' }, channel: 'approval-page' });
        return u;
      }
      const u = await create(tx, invite.userName, invite.groups, passwordHash, method === 'passkey');
      await tx.audit.append({ actor: u.name, action: 'user-enrol', subject: u.name, details: { groups: [...u.groups], invitedBy: invite.createdBy, method }, channel: 'approval-page' });
      return u;
    });
    return viewOf(created);
  };

  const accounts: Accounts = {
    async add(user: NewUser, by: Actor) {
      const name = checkAccountName('user', user.name);
      const groups = checkGroups(user.groups);
      const passwordHash = await hash(user.password);
      const created = await store.transaction(async (tx) => {
        const u = await create(tx, name, groups, passwordHash, user.requirePasskey === true);
        await tx.audit.append(audited(by, 'user-add', name, { groups, ...(user.requirePasskey === true ? { requirePasskey: 'true' } : {}) }));
        return u;
      });
      return viewOf(created);
    },

    async setPassword(name: string, password: string, by: Actor) {
      checkAccountName('user', name);
      const passwordHash = await hash(password);
      const sessionsEnded = await store.transaction(async (tx) => {
        if ((await tx.users.get(name)) === undefined) throw noSuchUser(name);
        await tx.users.update(name, { passwordHash });
        const ended = await tx.sessions.revokeAllForUser(name, clock());
        await tx.audit.append(audited(by, 'user-password', name));
        return ended;
      });
      return Object.freeze({ sessionsEnded });
    },

    async list() {
      return (await store.users.list()).map(viewOf);
    },

    async get(name: string) {
      const u = await store.users.get(checkAccountName('user', name));
      return u === undefined ? undefined : viewOf(u);
    },

    async groups() {
      const [users, passkeyOnly, tokensAllowed] = await Promise.all([store.users.list(), store.passkeys.passkeyGroups(), store.passkeys.approverTokenGroups()]);
      const members = new Map<string, string[]>(passkeyOnly.map((g) => [g, []]));
      for (const u of users) for (const g of u.groups) members.set(g, [...(members.get(g) ?? []), u.name]);
      return [...members]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([group, names]) => Object.freeze({ name: group, members: Object.freeze(names), requirePasskey: passkeyOnly.includes(group), approverTokens: tokensAllowed.includes(group) }));
    },

    async setGroup(name: string, setting: GroupSetting, by: Actor) {
      const group = checkAccountName('group', name);
      if (!(GROUP_SETTINGS as readonly string[]).includes(setting)) throw invalidArgument(`a group setting is one of ${GROUP_SETTINGS.join(', ')}`, { field: 'setting' });
      return store.transaction(async (tx) => {
        const changed =
          setting === 'require-passkey' || setting === 'allow-password'
            ? await tx.passkeys.setGroupRequirement(group, setting === 'require-passkey')
            : await tx.passkeys.setGroupApproverTokens(group, setting === 'allow-approver-tokens');
        if (changed) await tx.audit.append(audited(by, `group-${setting}`, `group:${group}`));
        return changed;
      });
    },

    async remove(name: string, by: Actor) {
      checkAccountName('user', name);
      await store.transaction(async (tx) => {
        if (!(await tx.users.remove(name))) throw noSuchUser(name);
        await tx.audit.append(audited(by, 'user-remove', name));
      });
    },

    async invite(user, by: Actor) {
      const name = checkAccountName('user', user.name);
      const groups = checkGroups(user.groups);
      const token = base64url(randomBytes(32)); // the shape of the pages' secrets (session.ts)
      const now = clock();
      const expiresAt = new Date(now.getTime() + INVITE_TTL_SECONDS * 1000);
      await store.transaction(async (tx) => {
        const existing = await tx.users.get(name);
        if (existing !== undefined && !(await unfinished(tx, existing))) throw new TesseraError('ERR_CONFLICT', `there is already a user ${name}`, { field: 'name' });
        if (existing !== undefined && !sameGroups(existing.groups, groups)) {
          throw new TesseraError('ERR_CONFLICT', `${name} never finished setting up a passkey: an invitation to finish keeps their groups (${existing.groups.join(', ')})`, { field: 'groups' });
        }
        await tx.invites.create({ token, userName: name, groups, createdBy: by.actor, expiresAt }, now);
        // The secret is not audited: only who invited whom, into which groups, until when.
        await tx.audit.append(audited(by, 'user-invite', name, { groups, expiresAt: expiresAt.toISOString(), ...(existing !== undefined ? { finishing: 'true' } : {}) }));
      });
      return Object.freeze({ token, name, groups: Object.freeze(groups), expiresAt });
    },

    async pendingInvite(token: string) {
      const found = await store.invites.find(token, clock());
      if (found === undefined) throw new TesseraError('ERR_NOT_FOUND', 'There is no such invitation.');
      if (found.state !== 'active') {
        throw new TesseraError('ERR_CONFLICT', found.state === 'used' ? 'This invitation was already used.' : 'This invitation has expired.', { state: found.state });
      }
      return found.invite;
    },

    async enrol(token: string, password: string) {
      return redeem(token, await hash(password), 'password');
    },

    async enrolWithPasskey(token: string) {
      // A real scrypt hash of a secret that is dropped here: never verifies, and costs a guesser the same time.
      return redeem(token, await hash(base64url(randomBytes(32))), 'passkey');
    },
  };
  return Object.freeze(accounts);
}
