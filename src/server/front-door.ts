/**
 * `GET /`: the URL `tessera serve` prints must lead somewhere. A person (a browser) gets a small
 * page saying what this server is, with links to the approval pages, the discharger's public
 * key and health; a program (`Accept: application/json`) gets the same as a JSON index of the
 * endpoints. The page has no script and carries the approval pages' security headers.
 */
import { Hono } from 'hono';
import { html } from 'hono/html';
import { pageSecurityHeaders, wantsJson } from '../http/html.js';
import { STYLESHEET_PATH } from '../discharge/web/views.js';

export interface Endpoint {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The route, `{name}` for a path parameter. */
  readonly path: string;
  /** What a caller needs: nothing, a credential, or an admin token allowing an operation. */
  readonly needs: string;
  readonly what: string;
}

/** Every route of the system (the README's HTTP API table, for programs). */
export const ENDPOINTS: readonly Endpoint[] = Object.freeze([
  { method: 'GET', path: '/approve/', needs: 'a signed-in approver', what: 'the approval pages: requests to approve or deny' },
  { method: 'GET', path: '/.well-known/tessera/discharger', needs: 'nothing', what: "the discharge service's location and public key, to add approval caveats offline" },
  { method: 'POST', path: '/v1/discharge', needs: 'a third-party caveat ticket', what: "ask for a discharge (a person's approval)" },
  { method: 'GET', path: '/v1/discharge/poll/{secret}', needs: 'the poll secret', what: 'long-poll for the decision and the discharge' },
  { method: 'GET', path: '/discharge/info', needs: 'nothing', what: "the bakery protocol: the discharger's public key and protocol version" },
  { method: 'GET', path: '/publickey', needs: 'nothing', what: "the bakery protocol: the discharger's public key" },
  { method: 'POST', path: '/discharge', needs: 'a third-party caveat ticket', what: 'the bakery protocol: ask for a discharge (interaction required, then re-POST with the token)' },
  { method: 'GET', path: '/discharge/wait-token/{secret}', needs: 'the poll secret', what: 'the bakery protocol: wait for the decision, the discharge as a token' },
  { method: 'GET', path: '/discharge/wait/{secret}', needs: 'the poll secret', what: "the bakery protocol (legacy): wait for the decision, the discharge in the bakery's JSON" },
  { method: 'GET', path: '/healthz', needs: 'nothing', what: 'health' },
  { method: 'GET', path: '/openapi.json', needs: 'nothing', what: 'this API described in OpenAPI 3.1' },
  { method: 'POST', path: '/v1/tokens', needs: 'admin token: tokens:mint', what: 'mint a token' },
  { method: 'GET', path: '/v1/tokens', needs: 'admin token: tokens:read', what: 'list minted tokens (filters, cursor); never a token itself' },
  { method: 'GET', path: '/v1/tokens/{id}', needs: 'admin token: tokens:read', what: "a token's state: active, revoked, expired" },
  { method: 'POST', path: '/v1/tokens/revoke', needs: 'admin token: tokens:revoke', what: 'revoke a token and every attenuation of it' },
  { method: 'GET', path: '/v1/audit', needs: 'admin token: audit:read', what: 'the audit log (filters, cursor; after + wait to follow it)' },
  { method: 'GET', path: '/v1/keys', needs: 'admin token: keys:read', what: 'the root keys and their states' },
  { method: 'POST', path: '/v1/keys/rotate', needs: 'admin token: keys:rotate', what: 'rotate the minting key' },
  { method: 'GET', path: '/v1/webhooks', needs: 'admin token: webhooks:read', what: 'the webhook endpoints and their deliveries' },
  { method: 'POST', path: '/v1/webhooks', needs: 'admin token: webhooks:write', what: 'subscribe a URL to approval requests (Standard Webhooks or Slack)' },
  { method: 'DELETE', path: '/v1/webhooks/{id}', needs: 'admin token: webhooks:write', what: 'remove a webhook endpoint' },
  { method: 'POST', path: '/v1/webhooks/{id}/test', needs: 'admin token: webhooks:write', what: 'send a test event to an endpoint' },
  { method: 'GET', path: '/v1/webhooks/{id}/attempts', needs: 'admin token: webhooks:read', what: "an endpoint's latest delivery attempts" },
  { method: 'POST', path: '/v1/verify', needs: 'admin token: verify', what: 'does a token (with its discharges) allow a request?' },
  { method: 'GET', path: '/v1/users', needs: 'admin token: users:read', what: 'the approvers and their groups' },
  { method: 'POST', path: '/v1/users', needs: 'admin token: users:write', what: 'add an approver' },
  { method: 'POST', path: '/v1/users/{name}/password', needs: 'admin token: users:write', what: "set an approver's password (ends their sessions)" },
  { method: 'POST', path: '/v1/users/{name}/remove', needs: 'admin token: users:write', what: 'remove an approver' },
  { method: 'POST', path: '/v1/users/{name}/approver-token', needs: 'admin token: users:write', what: 'mint an approver token, for a bot deciding for that person' },
  { method: 'POST', path: '/v1/invites', needs: 'admin token: users:write', what: 'a one-time link (24 h) where a person chooses their own password' },
  { method: 'GET', path: '/v1/groups', needs: 'admin token: users:read', what: "the approvers' groups: members, passkey-only or not" },
  { method: 'POST', path: '/v1/groups/{name}/{setting}', needs: 'admin token: users:write', what: 'require-passkey, allow-password, allow-approver-tokens or refuse-approver-tokens' },
  { method: 'GET', path: '/v1/approvals', needs: 'approver token: approvals:read', what: "pending requests for the token's approver" },
  { method: 'GET', path: '/v1/approvals/{id}', needs: 'approver token: approvals:read', what: 'one request' },
  { method: 'POST', path: '/v1/approvals/{id}/approve', needs: 'approver token: approvals:approve', what: 'approve a request' },
  { method: 'POST', path: '/v1/approvals/{id}/deny', needs: 'approver token: approvals:deny', what: 'deny a request, saying why' },
  { method: 'GET', path: '/metrics', needs: 'admin token: metrics:read', what: "this instance's metrics (Prometheus text format)" },
].map((e) => Object.freeze(e as Endpoint)));

const LINKS = Object.freeze({ approve: '/approve/', discharger: '/.well-known/tessera/discharger', health: '/healthz', openapi: '/openapi.json' });

function page(publicUrl: string) {
  const rows = ENDPOINTS.map((e) => html`<tr><td>${e.method}</td><td><code>${e.path}</code></td><td>${e.needs}</td><td>${e.what}</td></tr>`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tessera</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header><a class="brand" href="/">Tessera</a></header>
<main>
<h1>Tessera</h1>
<p>This server issues and checks capability tokens (macaroons), and asks people to approve what
agents want to do with them. Tokens minted here name <code>${publicUrl}</code> as their location.</p>
<h2>For people</h2>
<ul>
<li><a href="${LINKS.approve}">Approve or deny requests</a>: sign in with the account an administrator made for you (<code>tessera users add</code>).</li>
<li><a href="${LINKS.discharger}">The discharge service's public key</a>: what a token holder needs to make a token wait for an approval, offline.</li>
<li><a href="${LINKS.health}">Health</a></li>
</ul>
<h2>For programs</h2>
<p>Ask this URL with <code>Accept: application/json</code> for this index as JSON; the API is
described in OpenAPI 3.1 at <a href="${LINKS.openapi}"><code>${LINKS.openapi}</code></a>. Errors are
<code>{ "error": { "code": "ERR_…", "message": "…" } }</code>.</p>
<table>
<thead><tr><th>method</th><th>path</th><th>needs</th><th>what</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
</body>
</html>`;
}

/** The front door's routes (GET / only: its headers must not reach the API routes). */
export function frontDoor(options: { readonly publicUrl: string }): Hono {
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const index = Object.freeze({
    service: 'tessera',
    location: publicUrl,
    links: Object.fromEntries(Object.entries(LINKS).map(([k, path]) => [k, `${publicUrl}${path}`])),
    endpoints: ENDPOINTS,
  });
  const app = new Hono();
  app.get('/', pageSecurityHeaders({ hsts: publicUrl.startsWith('https:') }), (c) => {
    c.header('Vary', 'Accept');
    return wantsJson(c) ? c.json(index) : c.html(page(publicUrl));
  });
  return app;
}
