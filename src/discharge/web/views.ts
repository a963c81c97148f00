/**
 * The approval pages' HTML, built with hono's `html` tagged template: every interpolated value
 * is escaped, and nested templates are not escaped twice. No page has an inline script or
 * style (the content security policy forbids both); the pages work without JavaScript, except
 * the passkey buttons, which the one same-origin script (passkey-script.ts) shows and drives.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { AuditEntry, JsonValue } from '../../storage/index.js';
import { describeCaveat, formatTime } from './describe.js';
import type { PendingView } from './types.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';
import { ENROL_PATH } from '../accounts.js';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const BASE = '/approve';
export const STYLESHEET_PATH = `${BASE}/style.css`;

export const paths = {
  home: `${BASE}/`,
  login: `${BASE}/login`,
  logout: `${BASE}/logout`,
  history: `${BASE}/history`,
  activity: `${BASE}/activity`,
  passkeys: `${BASE}/passkeys`,
  passkeyOptions: `${BASE}/passkeys/options`,
  passkeyRegister: `${BASE}/passkeys/register`,
  passkeyRemove: `${BASE}/passkeys/remove`,
  passkeyLoginOptions: `${BASE}/login/passkey/options`,
  passkeyLogin: `${BASE}/login/passkey`,
  passkeyScript: `${BASE}/passkey.js`,
  request: (id: string): string => `${BASE}/requests/${encodeURIComponent(id)}`,
  approve: (id: string): string => `${BASE}/requests/${encodeURIComponent(id)}/approve`,
  deny: (id: string): string => `${BASE}/requests/${encodeURIComponent(id)}/deny`,
  withdraw: (id: string): string => `${BASE}/requests/${encodeURIComponent(id)}/withdraw`,
  enrol: (token: string): string => `${ENROL_PATH}${encodeURIComponent(token)}`,
  tokens: `${BASE}/tokens`,
};

/** What the page header knows about the signed-in person. */
export interface Viewer {
  readonly name: string;
  readonly csrfToken: string;
  /** The system offers passkeys (a link to the passkeys page). */
  readonly passkeys?: boolean;
}

const time = (date: Date | undefined): Html =>
  date === undefined ? html`—` : html`<time datetime="${date.toISOString()}">${formatTime(date)}</time>`;

const csrfField = (token: string): Html => html`<input type="hidden" name="csrf" value="${token}">`;

/** The passkey script (same origin; see passkey-script.ts), for pages with passkey buttons. */
const passkeyScript = html`<script src="${paths.passkeyScript}" defer></script>`;

/** Where the passkey script writes what went wrong. */
const passkeyStatus = html`<p id="passkey-status" class="error" role="alert"></p>`;

export function layout(title: string, body: Html, viewer?: Viewer, script = false): Html {
  const nav =
    viewer === undefined
      ? ''
      : html`<nav>
      <a href="${paths.home}">Pending</a>
      <a href="${paths.history}">History</a>
      <a href="${paths.activity}">Activity</a>
      <a href="${paths.tokens}">Bot token</a>
      ${viewer.passkeys === true ? html`<a href="${paths.passkeys}">Passkeys</a>` : ''}
      <span class="who">Signed in as <strong>${viewer.name}</strong></span>
      <form method="post" action="${paths.logout}" class="inline">${csrfField(viewer.csrfToken)}<button type="submit">Log out</button></form>
    </nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Tessera approvals</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
${script ? passkeyScript : ''}
</head>
<body>
<header><a class="brand" href="${paths.home}">Tessera approvals</a>${nav}</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export interface LoginPageInput {
  readonly csrfToken: string;
  readonly next: string;
  readonly name?: string;
  readonly error?: string;
  /** Offer "Sign in with a passkey" (the system has a public URL for WebAuthn). */
  readonly passkeys?: boolean;
}

export function loginPage(input: LoginPageInput): Html {
  const error = input.error === undefined ? '' : html`<p class="error" role="alert">${input.error}</p>`;
  const passkey =
    input.passkeys === true
      ? html`<section class="stack passkey">
  ${passkeyStatus}
  <button type="button" hidden data-passkey="sign-in" data-options="${paths.passkeyLoginOptions}" data-verify="${paths.passkeyLogin}" data-csrf="${input.csrfToken}" data-next="${input.next}">Sign in with a passkey</button>
</section>`
      : '';
  return layout(
    'Sign in',
    html`${error}
<form method="post" action="${paths.login}" class="stack">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="next" value="${input.next}">
  <label>User name <input name="name" autocomplete="username" required maxlength="128" value="${input.name ?? ''}" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
  <button type="submit">Sign in</button>
</form>
${passkey}`,
    undefined,
    input.passkeys === true,
  );
}

export interface EnrolPageInput {
  /** The double-submit CSRF token of forms without a session (as on the sign-in page). */
  readonly csrfToken: string;
  /** The invitation's secret: the page posts back to its own link. */
  readonly token: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly expiresAt: Date;
  readonly error?: string;
  /** The system offers passkeys: a second form sets the account up with one instead. */
  readonly passkeys?: boolean;
}

/**
 * The passkey way to enrol: a plain form (no script on this page) posting `method=passkey` to
 * the link; the server creates the account and leads to the passkeys page, which registers it.
 */
const enrolWithPasskey = (input: EnrolPageInput): Html => html`<section class="enrol-passkey">
<h2>With a passkey</h2>
<form method="post" action="${paths.enrol(input.token)}" class="stack">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="method" value="passkey">
  <button type="submit">Set up with a passkey instead</button>
</form>
<p class="note">No password: your device keeps the passkey and checks your PIN, fingerprint or face. The next page registers it;
your account then signs in and approves only with a passkey. Register it before you leave that page: the link works only once.</p>
</section>`;

/** The enrolment page of an invitation link: the invited person chooses their password, or a passkey. */
export function enrolPage(input: EnrolPageInput): Html {
  const error = input.error === undefined ? '' : html`<p class="error" role="alert">${input.error}</p>`;
  return layout(
    'Set up your account',
    html`<p>You are invited to approve requests as <strong>${input.name}</strong> (groups: ${input.groups.join(', ')}).
This link works once, until ${time(input.expiresAt)}.</p>
${error}
<section class="enrol-password">
<h2>With a password</h2>
<form method="post" action="${paths.enrol(input.token)}" class="stack">
  ${csrfField(input.csrfToken)}
  <input name="username" autocomplete="username" value="${input.name}" readonly hidden>
  <label>Password <input name="password" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="${MAX_PASSWORD_LENGTH}" autofocus></label>
  <label>Password again <input name="passwordAgain" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="${MAX_PASSWORD_LENGTH}"></label>
  <button type="submit">Set the password and sign in</button>
</form>
<p class="note">At least ${MIN_PASSWORD_LENGTH} characters. Nobody else sees it: Tessera keeps only a salted hash.</p>
</section>
${input.passkeys === true ? enrolWithPasskey(input) : ''}`,
  );
}

/** The approver-token lifetimes the page offers, in days. */
export const TOKEN_DAYS = [1, 7, 30] as const;

/**
 * The approver-token page: mint a token for a bot deciding for this person (the approvals API),
 * and once minted, the token itself, shown this once.
 */
export function tokensPage(viewer: Viewer, minted?: { readonly token: string; readonly expiresAt: Date | null }): Html {
  const shown =
    minted === undefined
      ? ''
      : html`<section class="minted">
<h2>Your new token</h2>
<p>Copy it now: it is shown this once. Anyone holding it can approve and deny your requests until ${time(minted.expiresAt ?? undefined)}.</p>
<textarea readonly rows="4" class="token">${minted.token}</textarea>
</section>`;
  return layout(
    'Bot token',
    html`${shown}
<p>A chat bot (or any program) with an approver token lists your pending requests and approves or denies them for you,
through <code>GET /v1/approvals</code> and <code>POST /v1/approvals/&lt;id&gt;/approve</code> or <code>/deny</code>.
Decisions made with it are recorded as yours, through the approvals API.</p>
<p>Narrow it before you hand it over, e.g. <code>tessera attenuate &lt;token&gt; --caveat "ops approvals:read,approvals:approve"</code>,
or to one request with <code>--caveat "resource /v1/approvals/&lt;id&gt;"</code>. Revoke it with <code>tessera revoke</code>.</p>
<form method="post" action="${paths.tokens}" class="stack">
  ${csrfField(viewer.csrfToken)}
  <label>Valid for <select name="days">${TOKEN_DAYS.map((d) => html`<option value="${d}"${d === 7 ? ' selected' : ''}>${d === 1 ? '1 day' : `${d} days`}</option>`)}</select></label>
  <button type="submit">Make a token</button>
</form>`,
    viewer,
  );
}

export interface PasskeysPageInput {
  readonly passkeys: readonly { readonly id: string; readonly createdAt: Date; readonly lastUsedAt: Date | null }[];
  /** This person may sign in and approve only with a passkey. */
  readonly required: boolean;
  /** How the current session was signed in. */
  readonly signedInWith: 'password' | 'passkey';
}

/** The signed-in person's passkeys, and a button to register one. */
export function passkeysPage(viewer: Viewer, input: PasskeysPageInput): Html {
  const notice = input.required
    ? input.signedInWith === 'passkey'
      ? html`<p>Your account signs in and approves only with a passkey.</p>`
      : html`<p class="error">Your account signs in and approves only with a passkey. Register one here, then log out and use <strong>Sign in with a passkey</strong>: until then you cannot approve.</p>`
    : html`<p>A passkey signs you in without a password (your device checks your PIN, fingerprint or face).</p>`;
  const list =
    input.passkeys.length === 0
      ? html`<p class="empty">You have no passkey yet.</p>`
      : html`<table>
<thead><tr><th>Passkey</th><th>Registered</th><th>Last used</th><th></th></tr></thead>
<tbody>${input.passkeys.map(
          (p) => html`<tr><td><code>${p.id.slice(0, 16)}…</code></td><td>${time(p.createdAt)}</td><td>${time(p.lastUsedAt ?? undefined)}</td><td><form method="post" action="${paths.passkeyRemove}" class="inline">${csrfField(viewer.csrfToken)}<input type="hidden" name="id" value="${p.id}"><button type="submit">Remove</button></form></td></tr>`,
        )}</tbody>
</table>`;
  const body = html`${notice}
${list}
<section class="stack passkey">
  ${passkeyStatus}
  <button type="button" hidden data-passkey="register" data-options="${paths.passkeyOptions}" data-verify="${paths.passkeyRegister}" data-csrf="${viewer.csrfToken}" data-next="${paths.passkeys}">Register a passkey</button>
</section>`;
  return layout('Passkeys', body, viewer, true);
}

const STATUS_WORDS: Readonly<Record<PendingView['status'], string>> = {
  pending: 'waiting for a decision',
  approved: 'approved',
  collected: 'approved (discharge collected)',
  denied: 'denied',
  expired: 'expired undecided',
  withdrawn: 'approval withdrawn',
  lapsed: 'approved, lapsed uncollected',
};

const status = (view: PendingView): Html => html`<span class="status status-${view.status}">${STATUS_WORDS[view.status] ?? view.status}</span>`;

const MAX_REQUESTER_FIELDS = 20;
const MAX_VALUE_LENGTH = 500;

const clip = (text: string): string => (text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH)}…` : text);
const jsonText = (value: JsonValue): string => clip(typeof value === 'string' ? value : JSON.stringify(value));

/** Names for what the service saw of the requester's connection. */
const REQUESTER_WORDS: Readonly<Record<string, string>> = { ip: 'Address', userAgent: 'Program' };

const verifiedBadge = html`<span class="badge verified">verified</span>`;
const unverifiedBadge = html`<span class="badge unverified">unverified, stated by the requester</span>`;

/** Who asks, in one line (for lists): the verified token first, else what the requester stated, marked so. */
function requesterSummary(view: PendingView): Html {
  const shown = view.shown;
  if (shown.kind === 'verified') {
    const t = shown.token;
    const name = t.label ?? t.subject ?? t.identifier;
    return html`${clip(name)}${t.subject !== null && t.label !== null ? html` (${clip(t.subject)})` : ''} ${verifiedBadge}`;
  }
  const r = view.requester;
  let said = 'unknown';
  for (const key of ['name', 'subject', 'client', 'agent', 'userAgent', 'ip']) {
    const v = r[key];
    if (typeof v === 'string' && v !== '') {
      said = clip(v);
      break;
    }
  }
  return html`${said}${shown.kind === 'private' ? ' (private)' : ''} ${unverifiedBadge}`;
}

function requesterDetails(view: PendingView): Html {
  const entries = Object.entries(view.requester).slice(0, MAX_REQUESTER_FIELDS);
  if (entries.length === 0) return html`<p>The requester told nothing about itself.</p>`;
  return html`<dl class="requester">${entries.map(([k, v]) => html`<dt>${REQUESTER_WORDS[k] ?? k}</dt><dd>${jsonText(v)}</dd>`)}</dl>`;
}

const caveatList = (conditions: readonly string[]): Html =>
  html`<ul class="caveats">${conditions.map((c) => {
    const words = describeCaveat(c);
    return words === c ? html`<li><code>${c}</code></li>` : html`<li>${words} <code>${c}</code></li>`;
  })}</ul>`;

/** The verified token, or plainly why nothing is shown as verified. Never mixed with claims. */
function shownSection(view: PendingView): Html {
  const shown = view.shown;
  switch (shown.kind) {
    case 'verified': {
      const t = shown.token;
      const minted = new Date(t.mintedAt);
      return html`<section class="verified">
<p>${verifiedBadge} The requester proved it holds this token, issued by this Tessera and not revoked.</p>
<dl class="facts">
  <dt>Label</dt><dd>${t.label ?? '—'}</dd>
  <dt>Subject</dt><dd>${t.subject ?? '—'}</dd>
  <dt>Identifier</dt><dd><code>${t.identifier}</code></dd>
  <dt>Minted</dt><dd>${time(Number.isNaN(minted.getTime()) ? undefined : minted)}${t.mintedBy === null ? '' : html` by <code>${t.mintedBy}</code>`}</dd>
</dl>
<h3>Its caveats ${verifiedBadge}</h3>
${t.caveats.length === 0 ? html`<p>None: the token is limited only by the approval asked for.</p>` : caveatList(t.caveats)}
${t.thirdParty.length <= 1 ? '' : html`<p>Its third-party caveats need discharges from: ${t.thirdParty.join(', ')} (this approval is one of them).</p>`}
</section>`;
    }
    case 'private':
      return html`<p class="private">The requester chose not to show its token or its limits: you only know what it states below.</p>`;
    case 'unverified':
      return html`<p class="unverified-note">A token was shown but could not be verified (${shown.why}), so nothing from it is shown as fact.</p>`;
    default:
      return html`<p class="unverified-note">The requester showed no token, so nothing about it is verified.</p>`;
  }
}

export function listPage(viewer: Viewer, pending: readonly PendingView[]): Html {
  const body =
    pending.length === 0
      ? html`<p class="empty">Nothing is waiting for you.</p>`
      : html`<table>
<thead><tr><th>What</th><th>Who asks</th><th>Addressed to</th><th>Expires</th></tr></thead>
<tbody>${pending.map(
          (p) => html`<tr><td><a href="${paths.request(p.id)}">${p.what}</a></td><td>${requesterSummary(p)}</td><td>${p.who}</td><td>${time(p.expiresAt)}</td></tr>`,
        )}</tbody>
</table>`;
  return layout('Pending requests', body, viewer);
}

function duration(seconds: number): string {
  if (seconds % 60 !== 0) return `${seconds} seconds`;
  return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
}

/** What an approval granted, and what became of it. */
function grantText(view: PendingView): Html {
  if (view.validUntil === undefined) return html``;
  const use = view.singleUse ? 'single use: it lets exactly one action through' : 'usable until it expires';
  const collected =
    view.status === 'collected'
      ? html`Collected by the requester at ${time(view.collectedAt)}.`
      : view.status === 'lapsed'
        ? html`Nobody collected it while it was valid: no discharge was issued.`
        : html`Not collected yet.`;
  return html`<dl class="facts grant">
  <dt>Granted</dt><dd>one discharge valid for ${duration(view.validitySeconds)}, until ${time(view.validUntil)}; ${use}</dd>
  <dt>Collected</dt><dd>${collected}</dd>
</dl>`;
}

function decisionText(view: PendingView): Html {
  if (view.status === 'pending') return html``;
  if (view.status === 'expired') return html`<p class="decision">Nobody decided before it expired.</p>`;
  if (view.status === 'withdrawn') {
    return html`<p class="decision">The approval was withdrawn by <strong>${view.decidedBy ?? 'unknown'}</strong>${view.decidedAt === undefined ? '' : html` at ${time(view.decidedAt)}`}, before it was collected.</p>`;
  }
  const verb = view.status === 'denied' ? 'Denied' : 'Approved';
  const reason = view.reason === undefined || view.reason === '' ? '' : html`: “${view.reason}”`;
  return html`<p class="decision">${verb} by <strong>${view.decidedBy ?? 'unknown'}</strong>${view.decidedAt === undefined ? '' : html` at ${time(view.decidedAt)}`}${reason}</p>`;
}

function defaultValidity(view: PendingView): string {
  const s = view.validitySeconds;
  if (s === undefined) return 'the default';
  if (s % 60 !== 0) return `the default, ${s} seconds`;
  return s === 60 ? 'the default, 1 minute' : `the default, ${s / 60} minutes`;
}

function decisionForms(view: PendingView, csrfToken: string): Html {
  if (view.status === 'approved') {
    return html`<form method="post" action="${paths.withdraw(view.id)}" class="stack deny">
  ${csrfField(csrfToken)}
  <button type="submit" name="decision" value="withdraw">Withdraw the approval</button>
</form>`;
  }
  if (view.status !== 'pending') return html``;
  return html`<div class="decide">
<form method="post" action="${paths.approve(view.id)}" class="stack approve">
  ${csrfField(csrfToken)}
  <label>Valid for (minutes; optional, leave empty for ${defaultValidity(view)}) <input name="validityMinutes" type="number" min="1" step="1" inputmode="numeric"></label>
  <button type="submit" name="decision" value="approve">Approve</button>
</form>
<form method="post" action="${paths.deny(view.id)}" class="stack deny">
  ${csrfField(csrfToken)}
  <label>Reason <textarea name="reason" required maxlength="500" rows="2"></textarea></label>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>
</div>`;
}

export function requestPage(viewer: Viewer, view: PendingView): Html {
  // A verified token's own caveats are shown above; its claimed copy would only repeat them.
  const claimed =
    view.shown.kind === 'private' || view.shown.kind === 'verified'
      ? ''
      : html`<h3>Caveats the requester says its token has</h3>
${view.otherCaveats.length === 0 ? html`<p>It named none.</p>` : caveatList(view.otherCaveats)}`;
  const reason =
    view.requestReason === undefined
      ? html`<p>The requester gave no reason.</p>`
      : html`<blockquote class="requester-words">${view.requestReason}</blockquote>`;
  const body = html`<p class="what">${view.what}</p>
<dl class="facts">
  <dt>Status</dt><dd>${status(view)}</dd>
  <dt>Condition</dt><dd><code>${view.condition}</code></dd>
  <dt>Addressed to</dt><dd>${view.who}</dd>
  <dt>Asked at</dt><dd>${time(view.createdAt)}</dd>
  <dt>Expires</dt><dd>${time(view.expiresAt)}</dd>
</dl>
<h2>Who asks</h2>
${shownSection(view)}
<h2>Stated by the requester ${unverifiedBadge}</h2>
<h3>Why it asks, in its own words</h3>
${reason}
${requesterDetails(view)}
${claimed}
${decisionText(view)}
${grantText(view)}
${decisionForms(view, viewer.csrfToken)}`;
  return layout('Request', body, viewer);
}

export function historyPage(viewer: Viewer, items: readonly PendingView[]): Html {
  const body =
    items.length === 0
      ? html`<p class="empty">No decisions yet.</p>`
      : html`<table>
<thead><tr><th>What</th><th>Outcome</th><th>By</th><th>When</th><th>Reason</th></tr></thead>
<tbody>${items.map(
          (p) =>
            html`<tr><td><a href="${paths.request(p.id)}">${p.what}</a></td><td>${status(p)}</td><td>${p.decidedBy ?? '—'}</td><td>${time(p.decidedAt ?? p.expiresAt)}</td><td>${p.reason ?? ''}</td></tr>`,
        )}</tbody>
</table>`;
  return layout('History', body, viewer);
}

const CHANNEL_WORDS: Readonly<Record<string, string>> = {
  'http-api': 'the admin API',
  'cli-local': 'the command line',
  'approval-page': 'these pages',
  'discharge-api': 'the discharge protocol',
  'approvals-api': 'the approvals API (an approver token)',
  system: 'Tessera',
};

/**
 * What happened to the requests addressed to this approver or their groups: who asked, who
 * decided, withdrew or collected, and through which channel (from the append-only audit log).
 */
export function activityPage(viewer: Viewer, events: readonly AuditEntry[]): Html {
  const body =
    events.length === 0
      ? html`<p class="empty">Nothing has happened to your requests yet.</p>`
      : html`<table>
<thead><tr><th>When</th><th>What</th><th>Who</th><th>Through</th><th>Request</th></tr></thead>
<tbody>${events.map(
          (e) =>
            html`<tr><td>${time(e.at)}</td><td>${e.action}</td><td>${e.actor}</td><td>${CHANNEL_WORDS[e.channel] ?? e.channel}</td><td>${e.subject === null ? '—' : html`<a href="${paths.request(e.subject)}"><code>${e.subject}</code></a>`}</td></tr>`,
        )}</tbody>
</table>`;
  return layout('Activity', body, viewer);
}

export function errorPage(title: string, message: string, code: string, viewer?: Viewer): Html {
  return layout(
    title,
    html`<p class="error" role="alert">${message}</p>
<p class="code">Error code: <code>${code}</code></p>
<p><a href="${paths.home}">Back to the pending requests</a></p>`,
    viewer,
  );
}

/** The one stylesheet (served from /approve/style.css; the CSP allows no inline style). */
export const STYLESHEET = `:root { color-scheme: light dark; --accent: #2456a6; --bad: #a62424; --good: #1f7a36; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1.5rem; border-bottom: 1px solid #8884; }
header .brand { font-weight: 600; text-decoration: none; }
nav { display: flex; gap: 1rem; align-items: center; flex: 1; }
nav .who { margin-left: auto; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
a { color: var(--accent); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #8883; vertical-align: top; }
dl.facts, dl.requester { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
code { font: .9em ui-monospace, monospace; overflow-wrap: anywhere; }
.stack { display: grid; gap: .75rem; max-width: 28rem; }
.stack label { display: grid; gap: .25rem; }
.inline { display: inline; }
.decide { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 2rem; margin-top: 2rem; }
input, textarea, button { font: inherit; padding: .4rem .6rem; }
button { cursor: pointer; }
.approve button { background: var(--good); color: #fff; border: 0; border-radius: 4px; }
.deny button { background: var(--bad); color: #fff; border: 0; border-radius: 4px; }
.error { color: var(--bad); font-weight: 600; }
.status-approved, .status-collected { color: var(--good); }
.status-denied, .status-expired { color: var(--bad); }
.what { font-size: 1.2rem; }
.badge { font-size: .8rem; padding: .05rem .4rem; border-radius: 3px; border: 1px solid currentColor; white-space: nowrap; }
.badge.verified { color: var(--good); }
.badge.unverified { color: #8a6d00; }
section.verified { border-left: 3px solid var(--good); padding-left: 1rem; }
blockquote.requester-words { margin: .5rem 0; padding-left: 1rem; border-left: 3px solid #8886; font-style: italic; }
.status-withdrawn, .status-lapsed { color: var(--bad); }
.note { font-size: .9rem; opacity: .8; }
textarea.token { width: 100%; font: .85em ui-monospace, monospace; }
`;
