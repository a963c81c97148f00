/**
 * Browser sessions of the approval pages.
 *
 * The session id is 256 random bits in an `HttpOnly; SameSite=Strict; Path=/approve` cookie
 * (`Secure` over HTTPS); the database keeps only its SHA-256 (sessions repository), so a copy of
 * the database lets no one act as an approver. Sessions end after `idleSeconds` without a
 * request or `maxSeconds` after login, whichever comes first, and logout revokes them.
 *
 * Each session's CSRF token is HMAC-SHA256(session id, label): the pages can print it in every
 * form without storing it anywhere, it tells nothing about the session id, and the sessions
 * repository checks it against its stored hash in constant time.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { base64url, utf8 } from '../../crypto/bytes.js';
import type { AuthMethod, Store } from '../../storage/index.js';
import type { Approver } from './types.js';

export const SESSION_COOKIE = 'tessera_session';
/** The pre-session CSRF cookie of the login form (double-submit, see pages.ts). */
export const LOGIN_CSRF_COOKIE = 'tessera_login_csrf';
const COOKIE_PATH = '/approve';

/** 32 random bytes as unpadded base64url (43 characters). */
export const newSecret = (): string => base64url(randomBytes(32));

/** Session ids and CSRF tokens are exactly what `newSecret` makes; anything else is not ours. */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const looksLikeSecret = (value: string | undefined): value is string => value !== undefined && SECRET_SHAPE.test(value);

const CSRF_LABEL = utf8('tessera approval-page csrf v1');

/** The CSRF token bound to a session id. */
const csrfTokenFor = (sessionId: string): string => base64url(hmac(sha256, utf8(sessionId), CSRF_LABEL));

export interface SessionOptions {
  /** Seconds without a request after which a session ends (default 30 minutes). */
  readonly idleSeconds: number;
  /** Seconds after login after which a session ends regardless (default 8 hours). */
  readonly maxSeconds: number;
  readonly secureCookies: boolean;
  readonly clock: () => Date;
}

/** A signed-in approver, for the length of one request. */
export interface SignedIn {
  readonly sessionId: string;
  readonly csrfToken: string;
  readonly approver: Approver;
  /** How this session was signed in (a passkey-only request needs 'passkey'). */
  readonly authMethod: AuthMethod;
}

/** Extending the expiry writes to the database, so do it at most once a minute per session. */
const TOUCH_GRANULARITY_MS = 60_000;

export type SessionStore = Pick<Store, 'users' | 'sessions'>;

export class BrowserSessions {
  readonly #store: SessionStore;
  readonly #options: SessionOptions;

  constructor(store: SessionStore, options: SessionOptions) {
    this.#store = store;
    this.#options = options;
  }

  cookieOptions(): { path: string; httpOnly: true; sameSite: 'Strict'; secure: boolean } {
    return { path: COOKIE_PATH, httpOnly: true, sameSite: 'Strict', secure: this.#options.secureCookies };
  }

  /** Start a session for `userName` and set its cookie. Always a fresh id (no fixation). */
  async start(c: Context, userName: string, authMethod: AuthMethod = 'password'): Promise<void> {
    const sessionId = newSecret();
    const now = this.#options.clock();
    const expiresAt = new Date(now.getTime() + Math.min(this.#options.idleSeconds, this.#options.maxSeconds) * 1000);
    await this.#store.sessions.create({ sessionId, userName, csrfToken: csrfTokenFor(sessionId), expiresAt, authMethod }, now);
    // No Max-Age: the browser forgets the cookie when it closes; the server enforces expiry.
    setCookie(c, SESSION_COOKIE, sessionId, this.cookieOptions());
  }

  /** The signed-in approver of this request, or undefined (no cookie, expired, revoked, user gone). */
  async current(c: Context): Promise<SignedIn | undefined> {
    const sessionId = getCookie(c, SESSION_COOKIE);
    if (!looksLikeSecret(sessionId)) return undefined;
    const now = this.#options.clock();
    const session = await this.#store.sessions.getActive(sessionId, now);
    if (session === undefined) return undefined;
    const user = await this.#store.users.get(session.userName);
    if (user === undefined) return undefined;
    const wanted = Math.min(
      now.getTime() + this.#options.idleSeconds * 1000,
      session.createdAt.getTime() + this.#options.maxSeconds * 1000,
    );
    if (wanted - session.expiresAt.getTime() >= TOUCH_GRANULARITY_MS) {
      if ((await this.#store.sessions.touch(sessionId, new Date(wanted), now)) === undefined) return undefined;
    }
    // Groups are read from the user on every request, so removing someone from a group takes
    // effect at once, not at their next login.
    return { sessionId, csrfToken: csrfTokenFor(sessionId), approver: { name: user.name, groups: [...user.groups] }, authMethod: session.authMethod };
  }

  /** True when `token` is the CSRF token of the signed-in session (constant-time, in the repository). */
  async checkCsrf(signedIn: SignedIn, token: string | undefined): Promise<boolean> {
    if (!looksLikeSecret(token)) return false;
    return this.#store.sessions.verifyCsrf(signedIn.sessionId, token, this.#options.clock());
  }

  /** Revoke the request's session, if it has one (the cookie stays: `start` replaces it). */
  async revoke(c: Context): Promise<void> {
    const sessionId = getCookie(c, SESSION_COOKIE);
    if (looksLikeSecret(sessionId)) await this.#store.sessions.revoke(sessionId, this.#options.clock());
  }

  /** Revoke the request's session (if any) and clear its cookie. */
  async end(c: Context): Promise<void> {
    await this.revoke(c);
    deleteCookie(c, SESSION_COOKIE, this.cookieOptions());
  }
}
