/**
 * One-time enrolment links. The link's secret is stored only as its SHA-256 (pass the secret,
 * this module hashes it), so a copy of the database enrols no one. `redeem` is one conditional
 * update: of two people using one link at once, exactly one gets it.
 */
import { and, eq, gt, isNull } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { invites } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkDate, checkSecret, checkText, guard, hashSecret } from './util.js';

/** `active` until used or expired. */
export type InviteState = 'active' | 'used' | 'expired';

export interface Invite {
  readonly userName: string;
  readonly groups: readonly string[];
  /** Who made it, for the audit log (`cli`, `admin:<identifier>`). */
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
}

export interface CreateInviteInput {
  /** The secret of the link (at least 16 characters, unguessable). */
  readonly token: string;
  readonly userName: string;
  readonly groups: readonly string[];
  readonly createdBy: string;
  readonly expiresAt: Date;
}

export interface InviteRepository {
  /** Store an invite. ERR_CONFLICT if the secret is already used (it never is, being random). */
  create(input: CreateInviteInput, now?: Date): Promise<Invite>;
  /** The invite of this secret and its state, or undefined when there is none. */
  find(token: string, now?: Date): Promise<{ readonly invite: Invite; readonly state: InviteState } | undefined>;
  /**
   * Use the invite, once: it is marked used and returned. ERR_NOT_FOUND for an unknown secret,
   * ERR_CONFLICT (`details.state` used or expired) for one that can no longer be used.
   */
  redeem(token: string, now?: Date): Promise<Invite>;
}

const MAX_GROUPS = 100;

const fields = {
  userName: invites.userName,
  groups: invites.groups,
  createdBy: invites.createdBy,
  createdAt: invites.createdAt,
  expiresAt: invites.expiresAt,
  usedAt: invites.usedAt,
};

const stateOf = (invite: Invite, now: Date): InviteState =>
  invite.usedAt !== null ? 'used' : invite.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';

export function inviteRepository(db: TesseraDb): InviteRepository {
  const byToken = (token: string) => eq(invites.tokenHash, hashSecret(checkText('token', token)));
  return {
    create: (input, now = new Date()) =>
      guard('create invite', async () => {
        if (!Array.isArray(input.groups) || input.groups.length > MAX_GROUPS) {
          throw new TesseraError('ERR_INVALID_ARGUMENT', `groups must be a list of at most ${MAX_GROUPS} names`, { field: 'groups' });
        }
        const [row] = await db
          .insert(invites)
          .values({
            tokenHash: hashSecret(checkSecret('token', input.token)),
            userName: checkText('userName', input.userName),
            groups: [...new Set(input.groups.map((g) => checkText('group', g)))],
            createdBy: checkText('createdBy', input.createdBy),
            createdAt: now,
            expiresAt: checkDate('expiresAt', input.expiresAt),
          })
          .returning(fields);
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'create invite returned no row');
        return row;
      }),

    find: (token, now = new Date()) =>
      guard('read invite', async () => {
        const [row] = await db.select(fields).from(invites).where(byToken(token));
        return row === undefined ? undefined : { invite: row, state: stateOf(row, now) };
      }),

    redeem: (token, now = new Date()) =>
      guard('use invite', async () => {
        const [row] = await db
          .update(invites)
          .set({ usedAt: now })
          .where(and(byToken(token), isNull(invites.usedAt), gt(invites.expiresAt, now)))
          .returning(fields);
        if (row !== undefined) return row;
        const [current] = await db.select(fields).from(invites).where(byToken(token));
        if (current === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such invitation');
        const state = stateOf(current, now);
        throw new TesseraError('ERR_CONFLICT', state === 'used' ? 'this invitation was already used' : 'this invitation has expired', { state });
      }),
  };
}
