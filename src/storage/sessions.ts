/**
 * Browser sessions of the approval page. Only SHA-256 hashes of the session id and of the CSRF
 * token are stored: pass the secrets, this module hashes them; a copy of the database does not
 * let anyone act as a logged-in approver.
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { and, eq, gt, isNotNull, isNull, lte, or } from 'drizzle-orm';
import { TesseraError, invalidArgument } from '../errors.js';
import { sessions, type AuthMethod } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkDate, checkSecret, checkText, guard, hashSecret } from './util.js';

export interface Session {
  readonly userName: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly revokedAt: Date | null;
  /** How the person signed in. */
  readonly authMethod: AuthMethod;
}

export interface CreateSessionInput {
  /** The session id handed to the browser (at least 16 characters, unguessable). */
  readonly sessionId: string;
  readonly userName: string;
  /** The CSRF token bound to this session (at least 16 characters, unguessable). */
  readonly csrfToken: string;
  readonly expiresAt: Date;
  /** How the person signed in (default password). */
  readonly authMethod?: AuthMethod;
}

export interface SessionRepository {
  /** Store a session. ERR_NOT_FOUND if the user does not exist, ERR_CONFLICT if the id is reused. */
  create(input: CreateSessionInput, now?: Date): Promise<Session>;
  /** The session if it exists, is not revoked and has not expired; else undefined. */
  getActive(sessionId: string, now?: Date): Promise<Session | undefined>;
  /**
   * Move an active session's expiry (sliding idle timeout); the caller caps it at the absolute
   * limit. The session as updated, or undefined if it is not active.
   */
  touch(sessionId: string, expiresAt: Date, now?: Date): Promise<Session | undefined>;
  /** True if the session is active and `csrfToken` is its CSRF token (constant-time compare). */
  verifyCsrf(sessionId: string, csrfToken: string, now?: Date): Promise<boolean>;
  /** Revoke one session (logout); false if it did not exist or was already revoked. */
  revoke(sessionId: string, now?: Date): Promise<boolean>;
  /** Revoke every active session of a user; returns how many. */
  revokeAllForUser(userName: string, now?: Date): Promise<number>;
  /** Delete expired and revoked sessions; returns how many. */
  purge(now?: Date): Promise<number>;
}

const publicFields = {
  userName: sessions.userName,
  createdAt: sessions.createdAt,
  expiresAt: sessions.expiresAt,
  revokedAt: sessions.revokedAt,
  authMethod: sessions.authMethod,
};

const AUTH_METHODS: readonly AuthMethod[] = ['password', 'passkey'];

function checkAuthMethod(value: unknown): AuthMethod {
  if (value === undefined) return 'password';
  if (!AUTH_METHODS.includes(value as AuthMethod)) throw invalidArgument('authMethod must be password or passkey', { field: 'authMethod' });
  return value as AuthMethod;
}

export function sessionRepository(db: TesseraDb): SessionRepository {
  const active = (sessionId: string, now: Date) =>
    and(eq(sessions.idHash, hashSecret(checkText('sessionId', sessionId))), isNull(sessions.revokedAt), gt(sessions.expiresAt, now));

  return {
    create: (input, now = new Date()) =>
      guard('create session', async () => {
        const [row] = await db
          .insert(sessions)
          .values({
            idHash: hashSecret(checkSecret('sessionId', input.sessionId)),
            userName: checkText('userName', input.userName),
            csrfHash: hashSecret(checkSecret('csrfToken', input.csrfToken)),
            createdAt: now,
            expiresAt: checkDate('expiresAt', input.expiresAt),
            authMethod: checkAuthMethod(input.authMethod),
          })
          .returning(publicFields);
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'create session returned no row');
        return row;
      }),

    getActive: (sessionId, now = new Date()) =>
      guard('read session', async () => {
        const [row] = await db.select(publicFields).from(sessions).where(active(sessionId, now));
        return row;
      }),

    touch: (sessionId, expiresAt, now = new Date()) =>
      guard('extend session', async () => {
        const [row] = await db
          .update(sessions)
          .set({ expiresAt: checkDate('expiresAt', expiresAt) })
          .where(active(sessionId, now))
          .returning(publicFields);
        return row;
      }),

    verifyCsrf: (sessionId, csrfToken, now = new Date()) =>
      guard('check CSRF token', async () => {
        if (typeof csrfToken !== 'string' || csrfToken.length === 0) return false;
        const [row] = await db.select({ csrfHash: sessions.csrfHash }).from(sessions).where(active(sessionId, now));
        return row !== undefined && equalBytes(row.csrfHash, hashSecret(csrfToken));
      }),

    revoke: (sessionId, now = new Date()) =>
      guard('revoke session', async () => {
        const rows = await db
          .update(sessions)
          .set({ revokedAt: now })
          .where(and(eq(sessions.idHash, hashSecret(checkText('sessionId', sessionId))), isNull(sessions.revokedAt)))
          .returning({ userName: sessions.userName });
        return rows.length > 0;
      }),

    revokeAllForUser: (userName, now = new Date()) =>
      guard('revoke sessions', async () => {
        const rows = await db
          .update(sessions)
          .set({ revokedAt: now })
          .where(and(eq(sessions.userName, checkText('userName', userName)), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
          .returning({ userName: sessions.userName });
        return rows.length;
      }),

    purge: (now = new Date()) =>
      guard('purge sessions', async () => {
        const rows = await db
          .delete(sessions)
          .where(or(lte(sessions.expiresAt, now), isNotNull(sessions.revokedAt)))
          .returning({ userName: sessions.userName });
        return rows.length;
      }),
  };
}
