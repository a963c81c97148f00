/**
 * The approval pages' passkey routes (mounted with the pages, under /approve):
 *
 *   GET  /approve/passkey.js                the pages' passkey script (passkey-script.ts)
 *   GET  /approve/passkeys                  the signed-in person's passkeys; register one
 *   POST /approve/passkeys/options          JSON { csrf }: creation options (a new challenge)
 *   POST /approve/passkeys/register         JSON { csrf, credential }: store the passkey
 *   POST /approve/passkeys/remove           form { csrf, id }: remove one of one's passkeys
 *   POST /approve/login/passkey/options     JSON { csrf }: sign-in options (a new challenge)
 *   POST /approve/login/passkey             JSON { csrf, next, credential }: sign in
 *
 * The JSON POSTs must be `application/json` (which a cross-site form cannot send, and a
 * cross-site fetch cannot without a CORS preflight nobody answers) and carry the CSRF token
 * of their page: the session's for registration, the sign-in form's double-submit cookie for
 * sign-in. Challenges are bound to that session or cookie (see passkeys.ts). Sign-in option
 * requests are limited per client IP, as each stores a challenge for a browser nobody knows yet.
 */
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import { TesseraError, invalidArgument } from '../../errors.js';
import type { WindowLimiter } from '../../http/rate-limit.js';
import { PASSKEY_SCRIPT } from './passkey-script.js';
import { userRequiresPasskey } from './passkey-policy.js';
import type { Passkeys } from './passkeys.js';
import { LOGIN_CSRF_COOKIE, looksLikeSecret, type BrowserSessions, type SessionStore, type SignedIn } from './session.js';
import { passkeysPage, paths, type Viewer } from './views.js';
import type { Store } from '../../storage/index.js';

export interface PasskeyRouteDeps {
  readonly passkeys: Passkeys;
  readonly sessions: BrowserSessions;
  readonly store: SessionStore & Pick<Store, 'passkeys' | 'audit' | 'transaction'>;
  /** Constant-time equality of a cookie and a posted token. */
  readonly sameSecret: (a: string, b: string | undefined) => boolean;
  readonly safeNext: (raw: unknown) => string;
  readonly viewer: (me: SignedIn) => Viewer;
  /** A signed-in form POST whose CSRF token checked out (pages.ts). */
  readonly signedInPost: (c: Context) => Promise<{ me: SignedIn; form: Readonly<Record<string, string | undefined>> }>;
  /** Sign-in option requests per client. */
  readonly optionsLimiter: WindowLimiter;
  readonly clientKey: (c: Context) => string;
}

/** A JSON object posted as application/json, or ERR_INVALID_ARGUMENT. */
async function jsonBody(c: Context): Promise<Readonly<Record<string, unknown>>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw invalidArgument('Send this as application/json.');
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw invalidArgument('The request body is not JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidArgument('The request body must be a JSON object.');
  return body as Readonly<Record<string, unknown>>;
}

const csrfRefused = (): TesseraError => new TesseraError('ERR_CSRF', 'The page had expired or came from elsewhere; reload it and try again.');

export function installPasskeyRoutes(app: Hono, deps: PasskeyRouteDeps): void {
  const { passkeys, sessions, store } = deps;

  /** The signed-in person of a JSON POST whose CSRF token checked out. */
  async function signedInJson(c: Context): Promise<{ me: SignedIn; body: Readonly<Record<string, unknown>> }> {
    const body = await jsonBody(c);
    const me = await sessions.current(c);
    if (me === undefined) throw new TesseraError('ERR_UNAUTHENTICATED', 'Your session has ended; sign in again.');
    if (!(await sessions.checkCsrf(me, typeof body.csrf === 'string' ? body.csrf : undefined))) throw csrfRefused();
    return { me, body };
  }

  /** The sign-in form's cookie (the ceremony's binding) of a JSON POST that repeats it. */
  async function signInJson(c: Context): Promise<{ binding: string; body: Readonly<Record<string, unknown>> }> {
    const body = await jsonBody(c);
    const cookie = getCookie(c, LOGIN_CSRF_COOKIE);
    if (!looksLikeSecret(cookie) || !deps.sameSecret(cookie, typeof body.csrf === 'string' ? body.csrf : undefined)) throw csrfRefused();
    return { binding: cookie, body };
  }

  /**
   * The user behind a session, who may register or remove passkeys: a passkey-only user who
   * has one already, only from a passkey session.
   */
  async function registrant(me: SignedIn) {
    const user = await store.users.get(me.approver.name);
    if (user === undefined) throw new TesseraError('ERR_UNAUTHENTICATED', 'Your session has ended; sign in again.');
    if (me.authMethod !== 'passkey' && (await userRequiresPasskey(store, user)) && (await store.passkeys.countForUser(user.name)) > 0) {
      throw new TesseraError('ERR_FORBIDDEN', 'Your account uses passkeys: sign in with one of them to add another.');
    }
    return user;
  }

  app.get('/passkey.js', (c) => {
    c.header('Cache-Control', 'no-cache');
    return c.body(PASSKEY_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });

  app.get('/passkeys', async (c) => {
    const me = await sessions.current(c);
    if (me === undefined) return c.redirect(`${paths.login}?next=${encodeURIComponent(paths.passkeys)}`, 303);
    const user = await store.users.get(me.approver.name);
    if (user === undefined) return c.redirect(paths.login, 303);
    const list = await store.passkeys.listForUser(user.name);
    return c.html(passkeysPage(deps.viewer(me), { passkeys: list, required: await userRequiresPasskey(store, user), signedInWith: me.authMethod }));
  });

  app.post('/passkeys/options', async (c) => {
    const { me } = await signedInJson(c);
    const user = await registrant(me);
    return c.json({ options: await passkeys.registrationOptions(user, me.sessionId) });
  });

  app.post('/passkeys/register', async (c) => {
    const { me, body } = await signedInJson(c);
    const user = await registrant(me);
    await passkeys.register(user.name, me.sessionId, body.credential);
    return c.json({ next: paths.passkeys });
  });

  app.post('/passkeys/remove', async (c) => {
    const { me, form } = await deps.signedInPost(c);
    const user = await registrant(me);
    const id = form.id ?? '';
    const removed = id !== '' && id.length <= 1400 && (await store.transaction(async (tx) => {
      if (!(await tx.passkeys.remove(id, user.name))) return false;
      await tx.audit.append({ actor: user.name, action: 'passkey-remove', subject: user.name, details: { credential: id.slice(0, 16) } });
      return true;
    }));
    if (!removed) throw new TesseraError('ERR_NOT_FOUND', 'You have no such passkey.');
    return c.redirect(paths.passkeys, 303);
  });

  app.post('/login/passkey/options', async (c) => {
    const { binding } = await signInJson(c);
    const key = deps.clientKey(c);
    const wait = deps.optionsLimiter.retryAfter(key);
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      throw new TesseraError('ERR_RATE_LIMITED', `Too many passkey sign-ins from here. Try again in ${Math.ceil(wait / 60)} minute(s).`);
    }
    deps.optionsLimiter.count(key);
    return c.json({ options: await passkeys.signInOptions(binding) });
  });

  app.post('/login/passkey', async (c) => {
    const { binding, body } = await signInJson(c);
    const user = await passkeys.signIn(binding, body.credential);
    await sessions.revoke(c); // a previous session in this browser does not outlive a new sign-in
    await sessions.start(c, user.name, 'passkey');
    deleteCookie(c, LOGIN_CSRF_COOKIE, sessions.cookieOptions());
    return c.json({ next: deps.safeNext(body.next) });
  });
}
