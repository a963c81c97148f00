/**
 * `approvalPages`: the hono sub-app of the approval pages, mounted at `/approve` by the system.
 *
 *   GET  /approve/login                  sign-in form (`?next=` a page under /approve/ to return to)
 *   POST /approve/login                  sign in (rate limited)
 *   POST /approve/logout                 revoke the session
 *   GET  /approve/                       pending requests this person may decide
 *   GET  /approve/requests/:id           one request: condition, who asks, other caveats, expiry
 *   POST /approve/requests/:id/approve   approve, optionally for fewer minutes
 *   POST /approve/requests/:id/deny      deny with a reason
 *   POST /approve/requests/:id/withdraw  take back an approval not yet collected
 *   GET  /approve/history                decided requests this person may see
 *   GET  /approve/style.css              the stylesheet
 *   GET  /approve/tokens                 an approver token for a bot (the approvals API)
 *   POST /approve/tokens                 mint one; shown once
 *   GET  /approve/enrol/:token           an invitation link (`tessera users invite`): choose a password (or a passkey)
 *   POST /approve/enrol/:token           create the account, spend the link, sign in (`method=passkey`:
 *                                        passkey-only, no usable password; on to /approve/passkeys to register it)
 *   …/passkeys, …/login/passkey, …/passkey.js   passkeys (see passkey-pages.ts), with a public URL
 *
 * Defences, in order on every request: security headers with a strict content security policy
 * (no inline script or style, no framing, no script at all except the same-origin file
 * /approve/passkey.js on the two pages with passkey buttons, sign-in and passkeys); `Cache-Control: no-store` on pages; a 16 KiB
 * body limit; hono's `csrf()` origin / Sec-Fetch-Site check on every POST; then, on every POST,
 * a synchronizer token in a hidden field: the session's token (see session.ts), or for the
 * sign-in form, which has no session yet, a random `tessera_login_csrf` cookie that the form
 * must repeat (double submit; a cross-site page can neither read nor, with the origin check and
 * SameSite=Strict, usefully set it). Who may decide is the discharge service's rule; the pages
 * only show what it returns for this approver and pass its refusals on (403/409).
 *
 * Sign-in: the same answer and about the same time for an unknown name as for a wrong password
 * (a dummy scrypt runs); after 5 failures for a name from one address (that address is locked
 * out of that account, the owner elsewhere is not), or 20 from one address, within 15 minutes,
 * sign-ins from there answer 429 ERR_RATE_LIMITED saying how long to wait. The counts are in
 * the database, shared by every instance (see throttle.ts).
 *
 * Passkeys (passkey-policy.ts): a passkey-only user's right password is refused once they have
 * a passkey (before that it lets them in only to register one), and approving a request that
 * needs a passkey (`requiresPasskey`) from a password session is refused (403).
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { utf8 } from '../../crypto/bytes.js';
import { TesseraError, invalidArgument, isTesseraError, type ErrorCode } from '../../errors.js';
import { DEFAULT_SCRYPT, checkScryptParams, dummyVerify, verifyPassword, type ScryptParams } from './passwords.js';
import { ConcurrencyGate, WindowLimiter, type WindowLimit } from '../../http/rate-limit.js';
import { pageSecurityHeaders, wantsJson } from '../../http/html.js';
import { httpStatus } from '../../http/status.js';
import { toLogger, type LogOption } from '../../log.js';
import { BrowserSessions, LOGIN_CSRF_COOKIE, looksLikeSecret, newSecret, type SessionStore, type SignedIn } from './session.js';
import { SignInThrottle, waitText } from './throttle.js';
import type { ApprovalService, Decision } from './types.js';
import type { Accounts, UserView } from '../accounts.js';
import type { Invite, Store } from '../../storage/index.js';
import { nodeClientIp } from '../../hono/node.js';
import { installPasskeyRoutes } from './passkey-pages.js';
import { requiresPasskey, userRequiresPasskey } from './passkey-policy.js';
import { Passkeys } from './passkeys.js';
import {
  BASE,
  STYLESHEET,
  activityPage,
  TOKEN_DAYS,
  enrolPage,
  errorPage,
  historyPage,
  listPage,
  loginPage,
  paths,
  requestPage,
  tokensPage,
  type Viewer,
} from './views.js';

export interface ApprovalPagesOptions {
  /** The discharge service's approver API. */
  readonly service: ApprovalService;
  /** Users, sessions, passkeys and rate-limit repositories (`createStore(...)` fits). */
  readonly store: PagesStore;
  /** The time sessions and rate limits are judged at (default: the system clock). */
  readonly clock?: () => Date;
  /** Mark cookies `Secure` (default: true when `publicUrl` is https). */
  readonly secureCookies?: boolean;
  /**
   * The system's public URL. Its origin is accepted by the CSRF origin check besides the
   * request's own (they differ behind a TLS-terminating proxy). It is also the passkeys'
   * relying party (host name = RP ID, origin = the only accepted origin): without it, or when
   * its host is an IP address (which WebAuthn does not accept), the pages offer no passkeys.
   */
  readonly publicUrl?: string;
  /** The client IP for the per-IP sign-in limit (default: the TCP peer under @hono/node-server). */
  readonly clientIp?: (c: Context) => string | undefined;
  /** Seconds of inactivity that end a session (default 1800). */
  readonly sessionIdleSeconds?: number;
  /** Seconds after sign-in that end a session regardless (default 28 800). */
  readonly sessionMaxSeconds?: number;
  /**
   * Failed sign-ins allowed per user name *from one client address* (the lockout: that address
   * only) and per client address (defaults 5 and 20 per 15 minutes), counted in the database.
   */
  readonly loginLimits?: { readonly perUser?: WindowLimit; readonly perIp?: WindowLimit };
  /** Password checks running at once (default 4); more are refused with 429. */
  readonly maxConcurrentLogins?: number;
  /**
   * The cost new password hashes are made at (`createSystem({ passwordHashing })`; default N
   * 2^15, r 8, p 1): a sign-in for an unknown name costs a check at this cost, as a real one does.
   */
  readonly passwordHashing?: ScryptParams;
  /** Where server-side failures are logged (default: the console; `createSystem` passes its logger). */
  readonly log?: LogOption;
  /** Approver accounts, for invitation links (`/approve/enrol/…`); without it those pages are not found. */
  readonly accounts?: EnrolAccounts;
  /** Mints an approver token for the signed-in person; without it /approve/tokens is not found. */
  readonly approverTokens?: (name: string, ttlSeconds: number) => Promise<{ readonly token: string; readonly expiresAt: Date | null }>;
}

/** What the enrolment pages need of the accounts. */
export type EnrolAccounts = Pick<Accounts, 'pendingInvite' | 'enrol' | 'enrolWithPasskey'>;


/** What the pages read and write: users, sessions, passkeys, and the audit of passkey events. */
export type PagesStore = SessionStore & Pick<Store, 'passkeys' | 'audit' | 'transaction' | 'rateLimits'>;

/** Passkey sign-in ceremonies one client may start per 15 minutes. */
const PASSKEY_OPTIONS_PER_IP: WindowLimit = { max: 100, windowSeconds: 15 * 60 };
const DEFAULT_PER_USER: WindowLimit = { max: 5, windowSeconds: 15 * 60 };
const DEFAULT_PER_IP: WindowLimit = { max: 20, windowSeconds: 15 * 60 };
const MAX_BODY = 16 * 1024;
const MAX_NAME = 256;
const MAX_REASON = 500;
/** Request ids travel in paths; anything longer or with control characters is no request of ours. */
const REQUEST_ID = /^[\x21-\x7e]{1,256}$/;


/**
 * `next` after sign-in: only a plain path under /approve/ (no scheme, host, `//`, backslash,
 * query, escape or dot segment), so the sign-in page cannot redirect anywhere else.
 */
export function safeNext(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 512) return paths.home;
  if (!/^\/approve\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(raw)) return paths.home;
  const segments = raw.split('/').slice(1);
  if (segments.slice(0, -1).some((s) => s === '' || s === '.' || s === '..') || segments.at(-1) === '..' || segments.at(-1) === '.') return paths.home;
  if (raw === paths.login || raw === paths.logout) return paths.home;
  return raw;
}

const sameSecret = (a: string, b: string | undefined): boolean =>
  b !== undefined && a.length === b.length && equalBytes(utf8(a), utf8(b));

/** String fields of a posted form (files and repeated names are ignored / last wins). */
async function formFields(c: Context): Promise<Readonly<Record<string, string | undefined>>> {
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody();
  } catch {
    throw invalidArgument('The form could not be read.');
  }
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') fields[k] = v;
  return fields;
}

const TITLES: Partial<Record<ErrorCode, string>> = {
  ERR_CSRF: 'Request refused',
  ERR_FORBIDDEN: 'Not yours to decide',
  ERR_CONFLICT: 'Already decided',
  ERR_NOT_FOUND: 'Not found',
  ERR_UNAUTHENTICATED: 'Sign in first',
  ERR_RATE_LIMITED: 'Too many attempts',
  ERR_INVALID_ARGUMENT: 'Bad request',
  ERR_LIMIT: 'Too large',
};

function asTesseraError(err: unknown): TesseraError | undefined {
  if (err instanceof TesseraError) return err;
  if (err instanceof HTTPException) {
    // hono's csrf() is the only middleware here that throws a 403.
    if (err.status === 403) return new TesseraError('ERR_CSRF', 'This form came from another site, so it was refused.');
    return new TesseraError(err.status < 500 ? 'ERR_INVALID_ARGUMENT' : 'ERR_STORAGE', 'The request could not be handled.');
  }
  return undefined;
}

/** WebAuthn needs a domain name for its RP ID (`localhost` included), never an IP address. */
function passkeysPossible(publicUrl: string | undefined): publicUrl is string {
  if (publicUrl === undefined) return false;
  const host = new URL(publicUrl).hostname;
  return !host.startsWith('[') && !/^[0-9.]+$/.test(host);
}

/** Build the approval pages' hono app (mount it at `/approve`). */
export function approvalPages(options: ApprovalPagesOptions): Hono {
  const { service, store } = options;
  if (service === undefined || store === undefined) throw invalidArgument('approvalPages needs a service and a store');
  const clock = options.clock ?? (() => new Date());
  const log = toLogger(options.log);
  const publicOrigin = options.publicUrl === undefined ? undefined : new URL(options.publicUrl).origin;
  const secureCookies = options.secureCookies ?? options.publicUrl?.startsWith('https:') ?? false;
  const clientIp = options.clientIp ?? nodeClientIp;
  const unknownUserCost = checkScryptParams(options.passwordHashing ?? DEFAULT_SCRYPT);
  const sessions = new BrowserSessions(store, {
    idleSeconds: options.sessionIdleSeconds ?? 30 * 60,
    maxSeconds: options.sessionMaxSeconds ?? 8 * 60 * 60,
    secureCookies,
    clock,
  });
  const throttle = new SignInThrottle(store, { perAccount: options.loginLimits?.perUser ?? DEFAULT_PER_USER, perAddress: options.loginLimits?.perIp ?? DEFAULT_PER_IP }, clock);
  const gate = new ConcurrencyGate(options.maxConcurrentLogins ?? 4);

  const passkeys = passkeysPossible(options.publicUrl) ? new Passkeys({ store, publicUrl: options.publicUrl, clock }) : undefined;

  const viewer = (me: SignedIn): Viewer => ({ name: me.approver.name, csrfToken: me.csrfToken, passkeys: passkeys !== undefined });

  /** GET pages for signed-in people: the approver, or a redirect to sign in and come back. */
  const toLogin = (c: Context): Response => c.redirect(`${paths.login}?next=${encodeURIComponent(safeNext(c.req.path))}`, 303);

  /** POSTs for signed-in people: the approver and the form, once its CSRF token checked out. */
  async function signedInPost(c: Context): Promise<{ me: SignedIn; form: Readonly<Record<string, string | undefined>> }> {
    const form = await formFields(c);
    const me = await sessions.current(c);
    if (me === undefined) throw new TesseraError('ERR_UNAUTHENTICATED', 'Your session has ended; sign in again.');
    if (!(await sessions.checkCsrf(me, form.csrf))) {
      throw new TesseraError('ERR_CSRF', 'The form was missing its security token or it did not match, so it was refused.');
    }
    return { me, form };
  }

  const requestId = (c: Context): string => {
    const id = c.req.param('id');
    if (id === undefined || !REQUEST_ID.test(id)) throw new TesseraError('ERR_NOT_FOUND', 'There is no such request.');
    return id;
  };

  const loginCsrf = (c: Context): string => {
    const existing = getCookie(c, LOGIN_CSRF_COOKIE);
    if (looksLikeSecret(existing)) return existing;
    const token = newSecret();
    setCookie(c, LOGIN_CSRF_COOKIE, token, { ...sessions.cookieOptions(), maxAge: 60 * 60 });
    return token;
  };

  /** The double-submit check of forms posted without a session (sign-in, enrolment): the cookie's token. */
  const checkLoginCsrf = (c: Context, form: Readonly<Record<string, string | undefined>>, refusal: string): string => {
    const cookieToken = getCookie(c, LOGIN_CSRF_COOKIE);
    if (!looksLikeSecret(cookieToken) || !sameSecret(cookieToken, form.csrf)) throw new TesseraError('ERR_CSRF', refusal);
    return cookieToken;
  };

  const app = new Hono();

  // Only the two pages with passkey buttons load a script; every other page allows none.
  const plainHeaders = pageSecurityHeaders({ hsts: secureCookies });
  const scriptHeaders = pageSecurityHeaders({ hsts: secureCookies, scripts: true });
  const scripted = new Set(passkeys === undefined ? [] : [paths.login, paths.passkeys]);
  app.use('*', (c, next) => (scripted.has(c.req.path) ? scriptHeaders : plainHeaders)(c, next));
  app.use('*', async (c, next) => {
    await next();
    if (c.req.path !== `${BASE}/style.css`) c.header('Cache-Control', 'no-store');
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY,
      onError: () => {
        throw new TesseraError('ERR_LIMIT', `The form is too large (at most ${MAX_BODY} bytes).`);
      },
    }),
  );
  app.use('*', csrf({ origin: (origin, c) => origin === new URL(c.req.url).origin || origin === publicOrigin }));

  app.onError((err, c) => {
    const e = asTesseraError(err);
    if (e === undefined) throw err; // not ours: the host app's error handler answers
    const status = httpStatus(e);
    // Server-side failures deserve a log line; TesseraError messages are secret-free by convention.
    if (status >= 500) log.error(`tessera: approval pages: ${c.req.method} ${c.req.routePath}: ${e.code}: ${e.message}`);
    if (wantsJson(c)) return c.json(e.toJSON(), status);
    const message = status >= 500 ? 'Something went wrong on the server; try again later.' : e.message;
    const title = e.details.reason === 'passkey-required' ? 'Passkey required' : (TITLES[e.code] ?? 'Something went wrong');
    return c.html(errorPage(title, message, e.code), status);
  });

  app.get('/style.css', (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(STYLESHEET, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });

  app.get('/login', async (c) => {
    const next = safeNext(c.req.query('next'));
    if ((await sessions.current(c)) !== undefined) return c.redirect(next, 303);
    return c.html(loginPage({ csrfToken: loginCsrf(c), next, passkeys: passkeys !== undefined }));
  });

  app.post('/login', async (c) => {
    const form = await formFields(c);
    const cookieToken = checkLoginCsrf(c, form, 'The sign-in form had expired or came from elsewhere; open the sign-in page and try again.');
    const next = safeNext(form.next);
    const name = form.name ?? '';
    const password = form.password ?? '';
    const again = (status: ContentfulStatusCode, error: string): Response | Promise<Response> =>
      c.html(loginPage({ csrfToken: cookieToken, next, name: name.slice(0, MAX_NAME), error, passkeys: passkeys !== undefined }), status);
    if (name === '' || password === '') return again(400, 'Enter your user name and password.');

    const account = name.slice(0, MAX_NAME);
    const address = clientIp(c);
    const wait = await throttle.retryAfter(account, address);
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      return again(429, `Too many failed sign-ins from your address. Try again in ${waitText(wait)}. (ERR_RATE_LIMITED)`);
    }
    const checked = await gate.tryRun(async () => {
      const user = name.length <= MAX_NAME ? await store.users.get(name) : undefined;
      const ok = user === undefined ? await dummyVerify(password, unknownUserCost) : await verifyPassword(password, user.passwordHash);
      return ok ? user : undefined;
    });
    if (checked === undefined) {
      c.header('Retry-After', '1');
      return again(429, 'Too many sign-ins at this moment. Try again in a second. (ERR_RATE_LIMITED)');
    }
    const user = checked.value;
    if (user === undefined) {
      await throttle.failed(account, address);
      return again(401, 'Wrong user name or password.');
    }
    await throttle.succeeded(account, address);
    // Passkey-only: the password (checked above, so this tells nothing to a guesser) is refused
    // once a passkey exists; before that it only lets the person in to register one.
    const enrolling = await userRequiresPasskey(store, user);
    if (enrolling && (await store.passkeys.countForUser(user.name)) > 0) {
      return again(403, 'Your account signs in only with a passkey: use "Sign in with a passkey". (ERR_FORBIDDEN)');
    }
    await sessions.revoke(c); // a previous session in this browser does not outlive a new sign-in
    await sessions.start(c, user.name, 'password');
    deleteCookie(c, LOGIN_CSRF_COOKIE, sessions.cookieOptions());
    return c.redirect(enrolling && passkeys !== undefined ? paths.passkeys : next, 303);
  });

  app.post('/logout', async (c) => {
    await signedInPost(c);
    await sessions.end(c);
    return c.redirect(paths.login, 303);
  });

  const pendingList = async (c: Context): Promise<Response> => {
    const me = await sessions.current(c);
    if (me === undefined) return toLogin(c);
    return c.html(listPage(viewer(me), await service.listPending(me.approver)));
  };

  app.get('/', (c) => c.redirect(paths.home, 301));

  app.get('/history', async (c) => {
    const me = await sessions.current(c);
    if (me === undefined) return toLogin(c);
    return c.html(historyPage(viewer(me), await service.history(me.approver, 100)));
  });

  app.get('/activity', async (c) => {
    const me = await sessions.current(c);
    if (me === undefined) return toLogin(c);
    return c.html(activityPage(viewer(me), await service.activity(me.approver, 100)));
  });

  app.get('/requests/:id', async (c) => {
    const me = await sessions.current(c);
    if (me === undefined) return toLogin(c);
    const view = await service.get(requestId(c), me.approver);
    if (view === undefined) throw new TesseraError('ERR_NOT_FOUND', 'There is no such request, or it is not yours to see.');
    return c.html(requestPage(viewer(me), view));
  });

  app.post('/requests/:id/approve', async (c) => {
    const { me, form } = await signedInPost(c);
    const id = requestId(c);
    if (me.authMethod !== 'passkey') {
      // A request this person may not see is refused by the service below, as before.
      const view = await service.get(id, me.approver);
      if (view !== undefined && (await requiresPasskey(store, me.approver.name, view.who))) {
        throw new TesseraError('ERR_FORBIDDEN', 'This request can be approved only after signing in with a passkey: log out and use "Sign in with a passkey".', { reason: 'passkey-required' });
      }
    }
    const minutes = (form.validityMinutes ?? '').trim();
    let decision: Decision = { approve: true };
    if (minutes !== '') {
      if (!/^[1-9][0-9]{0,5}$/.test(minutes)) {
        throw invalidArgument('The validity must be a whole number of minutes, at least 1.', { field: 'validityMinutes' });
      }
      decision = { approve: true, validitySeconds: Number(minutes) * 60 };
    }
    try {
      await service.decide(id, me.approver, decision);
    } catch (e) {
      // The service bounds the validity; say so in the page's unit, not in seconds.
      if (isTesseraError(e, 'ERR_INVALID_ARGUMENT') && e.details.field === 'validitySeconds') {
        throw invalidArgument('That is longer than this service allows; choose fewer minutes.', { field: 'validityMinutes' });
      }
      throw e;
    }
    return c.redirect(paths.request(id), 303);
  });

  app.post('/requests/:id/deny', async (c) => {
    const { me, form } = await signedInPost(c);
    const id = requestId(c);
    const reason = (form.reason ?? '').trim();
    if (reason === '') throw invalidArgument('Say why you deny the request.', { field: 'reason' });
    if (reason.length > MAX_REASON) throw new TesseraError('ERR_LIMIT', `The reason is too long (at most ${MAX_REASON} characters).`, { field: 'reason' });
    await service.decide(id, me.approver, { approve: false, reason });
    return c.redirect(paths.request(id), 303);
  });

  app.post('/requests/:id/withdraw', async (c) => {
    const { me } = await signedInPost(c);
    const id = requestId(c);
    await service.withdraw(id, me.approver);
    return c.redirect(paths.request(id), 303);
  });

  /**
   * The invitation behind `/enrol/:token` while it can be used; otherwise the page saying why
   * (unknown, used, expired), as a Response. Checked before any password is hashed.
   */
  const invitation = async (c: Context): Promise<{ readonly token: string; readonly invite: Invite; readonly accounts: EnrolAccounts } | Response> => {
    const token = c.req.param('token');
    const accounts = options.accounts;
    try {
      if (accounts === undefined || !looksLikeSecret(token)) throw new TesseraError('ERR_NOT_FOUND', 'There is no such invitation.');
      return { token, invite: await accounts.pendingInvite(token), accounts };
    } catch (e) {
      return unusable(c, e);
    }
  };

  /** The page for an invitation that cannot be used (unknown, used, expired, its name taken); other errors pass. */
  const unusable = (c: Context, e: unknown): Response | Promise<Response> => {
    if (!isTesseraError(e, 'ERR_NOT_FOUND') && !isTesseraError(e, 'ERR_CONFLICT')) throw e;
    const status = httpStatus(e);
    const message = `${e.message.replace(/^./, (ch) => ch.toUpperCase()).replace(/([^.])$/, '$1.')} Ask whoever invited you for a new link.`;
    return wantsJson(c) ? c.json(new TesseraError(e.code, message, e.details).toJSON(), status) : c.html(errorPage('Invitation not usable', message, e.code), status);
  };

  app.get('/enrol/:token', async (c) => {
    const found = await invitation(c);
    if (found instanceof Response) return found;
    const { invite, token } = found;
    return c.html(enrolPage({ csrfToken: loginCsrf(c), token, name: invite.userName, groups: invite.groups, expiresAt: invite.expiresAt, passkeys: passkeys !== undefined }));
  });

  app.post('/enrol/:token', async (c) => {
    const form = await formFields(c);
    const cookieToken = checkLoginCsrf(c, form, 'The form had expired or came from elsewhere; open your invitation link again.');
    const found = await invitation(c);
    if (found instanceof Response) return found;
    const { invite, token, accounts } = found;
    const again = (status: ContentfulStatusCode, error: string): Response | Promise<Response> =>
      c.html(enrolPage({ csrfToken: cookieToken, token, name: invite.userName, groups: invite.groups, expiresAt: invite.expiresAt, error, passkeys: passkeys !== undefined }), status);
    const method = form.method ?? 'password';
    if (method !== 'password' && method !== 'passkey') return again(400, 'Choose a password or a passkey.');
    if (method === 'passkey' && passkeys === undefined) {
      return again(400, 'This server offers no passkeys (its public URL has no domain name): choose a password.');
    }
    const password = form.password ?? '';
    if (method === 'password' && password !== (form.passwordAgain ?? '')) return again(400, 'The two passwords differ.');
    let enrolled: { value: UserView } | undefined;
    try {
      enrolled = await gate.tryRun(() => (method === 'passkey' ? accounts.enrolWithPasskey(token) : accounts.enrol(token, password)));
    } catch (e) {
      // A password the policy refuses leaves the link usable: say why, on the same form.
      if (isTesseraError(e) && e.details.field === 'password') return again(400, e.message);
      return unusable(c, e); // used meanwhile, or the name was taken since the invitation
    }
    if (enrolled === undefined) {
      c.header('Retry-After', '1');
      return again(429, 'Too many sign-ins at this moment. Try again in a second. (ERR_RATE_LIMITED)');
    }
    await sessions.revoke(c);
    // Not a passkey session, even for a passkey enrolment: it may register the first passkey
    // (passkey-pages.ts `registrant`) and cannot approve for the passkey-only account.
    await sessions.start(c, enrolled.value.name, 'password');
    deleteCookie(c, LOGIN_CSRF_COOKIE, sessions.cookieOptions());
    // A passkey-only account (enrolled with a passkey, finishing such an enrolment with a
    // password, or in a passkey-only group) goes on to register its passkey, as a sign-in does.
    const user = await store.users.get(enrolled.value.name);
    const toPasskeys = passkeys !== undefined && (method === 'passkey' || (user !== undefined && (await userRequiresPasskey(store, user))));
    return c.redirect(toPasskeys ? paths.passkeys : paths.home, 303);
  });

  const mintToken = options.approverTokens;
  if (mintToken !== undefined) {
    app.get('/tokens', async (c) => {
      const me = await sessions.current(c);
      if (me === undefined) return toLogin(c);
      return c.html(tokensPage(viewer(me)));
    });

    app.post('/tokens', async (c) => {
      const { me, form } = await signedInPost(c);
      const days = TOKEN_DAYS.find((d) => String(d) === form.days);
      if (days === undefined) throw invalidArgument(`Choose ${TOKEN_DAYS.join(', ')} days.`, { field: 'days' });
      return c.html(tokensPage(viewer(me), await mintToken(me.approver.name, days * 86_400)));
    });
  }

  if (passkeys !== undefined) {
    installPasskeyRoutes(app, {
      passkeys,
      sessions,
      store,
      sameSecret,
      safeNext,
      viewer,
      signedInPost,
      optionsLimiter: new WindowLimiter(PASSKEY_OPTIONS_PER_IP, () => clock().getTime()),
      clientKey: (c) => `ip:${clientIp(c) ?? 'unknown'}`,
    });
  }

  // `/approve/` (the list's address) only reaches a mounted sub-app through a wildcard route.
  app.get('/*', async (c) => {
    if (c.req.path === paths.home) return pendingList(c);
    throw new TesseraError('ERR_NOT_FOUND', 'There is no such page.');
  });

  return app;
}

