/**
 * The HTTP API described in OpenAPI 3.1, so that a service in any language can generate a
 * client: served at `GET /openapi.json` and checked in as `openapi.json` (test/openapi.test.ts
 * keeps the copy identical, walks every route of the real app against `paths`, and validates
 * real answers against the schemas, so the document cannot drift from the code).
 *
 * One entry per route in `PATHS`: add a route there when you add one to the app. Error answers
 * come from ERROR_STATUS (one response per status, its `code` limited to the codes that map to
 * that status), so a new error code is described without touching this file.
 */
import { Hono } from 'hono';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { ERROR_STATUS } from '../http/status.js';
import { ADMIN_OPS, MAX_TOKEN_TEXT } from '../issuer/routes.js';
import { APPROVAL_OPS, APPROVER_AUDIENCE } from '../discharge/approver-tokens.js';
import { GROUP_SETTINGS, INVITE_TTL_SECONDS } from '../discharge/accounts.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../discharge/web/passwords.js';
import { TOKEN_STATES } from '../issuer/listing.js';
import { MAX_LABEL_LENGTH, MAX_MINT_CAVEATS } from '../issuer/issuer.js';
import { DEFAULT_LIMITS } from '../macaroon/limits.js';
import { LOGIN_CSRF_COOKIE, SESSION_COOKIE } from '../discharge/web/session.js';
import { tesseraVersion } from '../cli/version.js';
import { MAX_CLAIMED_CAVEATS, MAX_CLAIMED_CAVEAT_LENGTH } from '../tickets/conditions.js';
import { MAX_PRESENTATION_CHARS, MAX_REQUEST_REASON } from '../tickets/presentation.js';
import { BAKERY_TOKEN_KIND } from '../discharge/bakery.js';
import { RECOLLECT_WINDOW_MS } from '../storage/discharges.js';

/** A JSON Schema (2020-12, OpenAPI 3.1's dialect), kept loose: it is data, checked by the tests. */
export type Schema = { readonly [keyword: string]: unknown };

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: Schema;
  readonly servers?: readonly { readonly url: string }[];
  readonly tags: readonly Schema[];
  readonly paths: { readonly [path: string]: { readonly [method: string]: Schema } };
  readonly components: Schema;
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra });
const dateTime: Schema = { type: 'string', format: 'date-time' };
const text = (maxLength?: number): Schema => ({ type: 'string', minLength: 1, ...(maxLength !== undefined ? { maxLength } : {}) });
const object = (properties: { readonly [name: string]: Schema }, required: readonly string[] = [], extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...(required.length > 0 ? { required } : {}),
  additionalProperties: false,
  ...extra,
});

/** The statuses errors are answered with, and the codes behind each. */
const codesFor = (status: number): ErrorCode[] => ERROR_CODES.filter((code) => ERROR_STATUS[code] === status);
const ERROR_STATUSES = [...new Set(Object.values(ERROR_STATUS))].filter((s) => s >= 400).sort((a, b) => a - b);

const json = (schema: Schema, description: string, headers?: Schema): Schema => ({
  description,
  ...(headers !== undefined ? { headers } : {}),
  content: { 'application/json': { schema } },
});
const errorRef = (status: number): Schema => ({ $ref: `#/components/responses/Error${status}` });
const errors = (...statuses: number[]): Record<string, Schema> => Object.fromEntries(statuses.map((s) => [String(s), errorRef(s)]));

/** Which admin operation (`ops` caveat) a route needs; the admin token goes in Authorization. */
const admin = (op: string): Schema => ({ security: [{ macaroon: [op] }, { bearer: [op] }] });
/** Routes where the credential is in the request itself (a ticket, a poll secret) or none is needed. */
const open: Schema = { security: [] };
const approver: Schema = { security: [{ approverSession: [] }] };
/** The approvals API: an approver token whose caveats allow the operation (the role). */
const approverToken = (op: string): Schema => ({ security: [{ approverToken: [op] }] });

/** The errors of every admin route: macaroonAuth's refusals, bad input, a server failure. */
const ADMIN_ERRORS = errors(400, 401, 403, 500);

const jsonBody = (schema: Schema, required = true): Schema => ({ requestBody: { required, content: { 'application/json': { schema } } } });
const formBody = (schema: Schema): Schema => ({ requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema } } } });
const query = (name: string, schema: Schema, description: string): Schema => ({ name, in: 'query', required: false, description, schema });
const pathParam = (name: string, description: string): Schema => ({ name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } });

const TOKEN_TEXT = text(MAX_TOKEN_TEXT);
const WEBHOOK_ID = { type: 'string', pattern: '^wh_[A-Za-z0-9_-]{16}$' };
const LABEL = text(MAX_LABEL_LENGTH);
const PAGE = [
  query('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'page size (default 100)'),
  query('cursor', { type: 'string' }, "the previous page's nextCursor"),
  query('since', dateTime, 'RFC 3339 time: from'),
  query('until', dateTime, 'RFC 3339 time: before'),
];

// An HTML page (the approval pages); their errors are pages too, or JSON for `Accept: application/json`.
const htmlPage = (description: string): Schema => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const redirect = (description: string): Schema => ({ description, headers: { Location: { schema: { type: 'string' } } } });
const htmlErrors = (...statuses: number[]): Record<string, Schema> =>
  Object.fromEntries(
    statuses.map((s) => [String(s), { description: `an error page (codes ${codesFor(s).join(', ')})`, content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: ref(`Error${s}`) } } }]),
  );
const TO_LOGIN = redirect('not signed in: to the sign-in page, `next` naming this page');
const PAGES_TAG = ['approval pages (HTML)'];
/** The passkey ceremonies' answers (WebAuthn Level 3 JSON options, and where to go next). */
const PASSKEY_OPTIONS = object({ options: { type: 'object', description: 'WebAuthn options JSON, for PublicKeyCredential.parse*OptionsFromJSON' } }, ['options']);
const PASSKEY_NEXT = object({ next: { type: 'string', description: 'a page under /approve/ to go to' } }, ['next']);

const RECOLLECT_SECONDS = RECOLLECT_WINDOW_MS / 1000;

// The Go/Python bakery's discharge protocol answers in its own JSON, not Tessera's `{ error }`.
const BAKERY_TAG = ['bakery'];
const bakeryJson = (schema: Schema, description: string): Schema => json(schema, description);
const bakeryError = (description: string): Schema => bakeryJson(ref('BakeryError'), description);
const BAKERY_SECRET = pathParam('secret', 'from the interaction-required answer (WaitTokenURL / WaitURL): the single-use poll secret');
const BAKERY_WAIT_ERRORS = {
  400: bakeryError('bad request: the client went away'),
  401: bakeryError(`permission denied: denied (the person's reason in Message), expired, withdrawn or lapsed; or collected more than ${RECOLLECT_SECONDS} s ago`),
  404: bakeryError('not found: no such discharge request'),
  429: bakeryError('too many requests (Retry-After): per client IP, or the service cannot wait now'),
  500: bakeryError('internal error'),
};
const BAKERY_FORM_FIELDS: Record<string, Schema> = {
  id: { type: 'string', description: 'the caveat id as text (or id64)' },
  id64: { type: 'string', description: 'the caveat id, base64 (either alphabet)' },
  caveat64: { type: 'string', description: 'the ticket, base64, when it travels apart from the id (bakery v3)' },
  token: { type: 'string', description: 'a discharge token as text (or token64), with token-kind' },
  token64: { type: 'string', description: 'the token from the wait-token URL, base64' },
  'token-kind': { type: 'string', description: `the token's kind: ${BAKERY_TOKEN_KIND}` },
  location: { type: 'string', description: 'ignored' },
};

/** The bakery's HTTP discharge protocol (Go `httpbakery`, Python `macaroonbakery`): see src/discharge/bakery.ts. */
const BAKERY_PATHS = {
  '/discharge/info': {
    get: {
      tags: BAKERY_TAG,
      operationId: 'bakeryDischargeInfo',
      summary: "the discharger's public key and bakery protocol version",
      ...open,
      responses: { 200: bakeryJson(ref('BakeryInfo'), 'cacheable for five minutes') },
    },
  },
  '/publickey': {
    get: {
      tags: BAKERY_TAG,
      operationId: 'bakeryPublicKey',
      summary: "the discharger's public key (the bakery's older endpoint)",
      ...open,
      responses: { 200: bakeryJson(ref('BakeryPublicKey'), 'cacheable for five minutes') },
    },
  },
  '/discharge': {
    post: {
      tags: BAKERY_TAG,
      operationId: 'bakeryDischarge',
      summary: "ask for a discharge as a bakery client does: interaction required, then re-POST with the wait URL's token",
      description:
        'The form travels in the URL query (Go) or an x-www-form-urlencoded body (Python), or both. Without a token a person must approve: 401 interaction required (407 for protocol version 0). With the token from the wait-token URL: the discharge in the bakery\'s JSON.',
      ...open,
      parameters: [
        ...Object.entries(BAKERY_FORM_FIELDS).map(([name, schema]) => query(name, schema, schema.description as string)),
        { name: 'Bakery-Protocol-Version', in: 'header', required: false, description: 'the bakery protocol version (absent: 0)', schema: { type: 'string', pattern: '^[0-9]{1,3}$' } },
      ],
      requestBody: { required: false, content: { 'application/x-www-form-urlencoded': { schema: object(BAKERY_FORM_FIELDS) } } },
      responses: {
        200: bakeryJson(ref('BakeryDischarge'), 'the discharge (a token was given, and is this caveat\'s discharge; or nothing to wait for)'),
        400: bakeryError('bad request: a missing, ambiguous, unknown or malformed field or condition'),
        401: bakeryJson({ anyOf: [ref('BakeryInteractionRequired'), ref('BakeryError')] }, 'interaction required (WWW-Authenticate: Macaroon), or permission denied: the token is not this caveat\'s discharge'),
        407: bakeryJson(ref('BakeryInteractionRequired'), 'interaction required, for protocol version 0'),
        429: bakeryError('too many requests (Retry-After): per client IP'),
        500: bakeryError('internal error'),
      },
    },
  },
  '/discharge/wait-token/{secret}': {
    get: {
      tags: BAKERY_TAG,
      operationId: 'bakeryWaitToken',
      summary: 'wait until a person decides: the discharge as a token to re-POST (the same again within the collection window)',
      ...open,
      parameters: [BAKERY_SECRET],
      responses: { 200: bakeryJson(ref('BakeryWaitToken'), 'approved'), ...BAKERY_WAIT_ERRORS },
    },
  },
  '/discharge/wait/{secret}': {
    get: {
      tags: BAKERY_TAG,
      operationId: 'bakeryWait',
      summary: "wait until a person decides (legacy WaitURL): the discharge in the bakery's JSON",
      ...open,
      parameters: [BAKERY_SECRET],
      responses: { 200: bakeryJson(ref('BakeryDischarge'), 'approved'), ...BAKERY_WAIT_ERRORS },
    },
  },
} as const satisfies OpenApiDocument['paths'];

/** Every route of the system: one entry per path and method. */
const PATHS = {
  '/': {
    get: {
      tags: ['service'],
      operationId: 'frontDoor',
      summary: 'the front door: a page of links for a person, a JSON index of the endpoints for a program (Accept: application/json)',
      ...open,
      responses: {
        200: {
          description: 'the index (JSON) or the page (HTML), by Accept',
          content: { 'application/json': { schema: ref('FrontDoor') }, 'text/html': { schema: { type: 'string' } } },
        },
      },
    },
  },
  '/openapi.json': {
    get: {
      tags: ['service'],
      operationId: 'openApi',
      summary: 'this document',
      ...open,
      responses: { 200: json({ type: 'object', required: ['openapi', 'info', 'paths'], properties: { openapi: { const: '3.1.0' } } }, 'the OpenAPI 3.1 document') },
    },
  },
  '/healthz': {
    get: {
      tags: ['service'],
      operationId: 'health',
      summary: 'health',
      ...open,
      responses: {
        200: json(
          { type: 'object', required: ['status'], properties: { status: { const: 'ok' }, database: { enum: ['pglite', 'postgres'] }, revoked: { type: 'integer', minimum: 0 }, revocationSeq: { type: 'integer' } } },
          'up',
        ),
        ...errors(500),
      },
    },
  },
  '/v1/tokens': {
    post: {
      tags: ['tokens'],
      operationId: 'mintToken',
      summary: 'mint a token',
      ...admin(ADMIN_OPS.mint),
      ...jsonBody(
        object({
          caveats: { type: 'array', maxItems: MAX_MINT_CAVEATS, items: text(4096), description: 'first-party caveats, e.g. "ops read"' },
          label: LABEL,
          subject: LABEL,
          ttl: ref('Duration'),
        }),
        false,
      ),
      responses: { 201: json(ref('MintedToken'), 'the token, shown this once', { 'Cache-Control': { schema: { const: 'no-store' } } }), ...ADMIN_ERRORS },
    },
    get: {
      tags: ['tokens'],
      operationId: 'listTokens',
      summary: 'list minted tokens (filters, cursor); never a token itself',
      ...admin(ADMIN_OPS.read),
      parameters: [
        query('state', { enum: TOKEN_STATES }, 'only tokens in this state'),
        query('label', { type: 'string' }, 'only tokens with this label'),
        query('subject', { type: 'string' }, 'only tokens with this subject'),
        query('keyId', { type: 'string' }, 'only tokens signed by this root key'),
        ...PAGE,
      ],
      responses: {
        200: json(object({ tokens: { type: 'array', items: ref('TokenListing') }, nextCursor: { type: 'string' } }, ['tokens']), 'one page, newest first; nextCursor when the page is full'),
        ...ADMIN_ERRORS,
      },
    },
  },
  '/v1/tokens/{id}': {
    get: {
      tags: ['tokens'],
      operationId: 'tokenStatus',
      summary: "a token's state: active, revoked, expired",
      ...admin(ADMIN_OPS.read),
      parameters: [pathParam('id', "the token's identifier")],
      responses: { 200: json(ref('TokenStatus'), 'its state'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/tokens/revoke': {
    post: {
      tags: ['tokens'],
      operationId: 'revokeToken',
      summary: 'revoke a token and every attenuation of it; durable before it answers',
      ...admin(ADMIN_OPS.revoke),
      ...jsonBody(object({ token: TOKEN_TEXT, identifier: text(), reason: LABEL }, [], { description: 'token or identifier' })),
      responses: {
        200: json(object({ identifier: { type: 'string' }, revoked: { const: true }, revokedAt: dateTime, alreadyRevoked: { type: 'boolean' } }, ['identifier', 'revoked', 'revokedAt', 'alreadyRevoked']), 'revoked'),
        ...errors(400, 401, 403, 404, 500),
      },
    },
  },
  '/v1/audit': {
    get: {
      tags: ['audit'],
      operationId: 'listAudit',
      summary: 'the audit log (filters, cursor; after + wait to follow it)',
      ...admin(ADMIN_OPS.auditRead),
      parameters: [
        query('action', { type: 'string' }, 'only events of this kind (mint, revoke, key-create, …)'),
        query('token', { type: 'string' }, 'only events about this token identifier, key id or request id'),
        query('actor', { type: 'string' }, 'only events by this actor (admin:<identifier>, a user name, system)'),
        query('channel', { type: 'string' }, 'only events through this channel (http-api, cli-local, approval-page, …)'),
        query('after', { type: 'integer', minimum: 0 }, 'follow: only events after this id, oldest first (not with cursor)'),
        query('wait', ref('Duration'), 'with after: wait up to this long (at most 60 s) for an event when there is none yet'),
        ...PAGE,
      ],
      responses: {
        200: json(object({ events: { type: 'array', items: ref('AuditEvent') }, nextCursor: { type: 'string' } }, ['events']), 'one page, newest first (oldest first with after)'),
        ...ADMIN_ERRORS,
      },
    },
  },
  '/v1/keys': {
    get: {
      tags: ['keys'],
      operationId: 'listKeys',
      summary: 'the root keys and their states (never key bytes)',
      ...admin(ADMIN_OPS.keysRead),
      responses: { 200: json(object({ keys: { type: 'array', items: ref('Key') } }, ['keys']), 'the keys'), ...ADMIN_ERRORS },
    },
  },
  '/v1/keys/rotate': {
    post: {
      tags: ['keys'],
      operationId: 'rotateKey',
      summary: 'rotate the minting key',
      description: 'The presented admin token dies with its key: a replacement with the same caveats comes back as adminToken when they can be carried over.',
      ...admin(ADMIN_OPS.keysRotate),
      ...jsonBody(object({ graceSeconds: ref('Duration'), retireOld: { type: 'boolean', description: 'retire every older key now' } }), false),
      responses: {
        200: json(
          object({ current: ref('Key'), previous: { type: 'array', items: ref('Key') }, adminToken: TOKEN_TEXT, adminIdentifier: { type: 'string' } }, ['current', 'previous']),
          'the new key and the older ones',
        ),
        ...ADMIN_ERRORS,
      },
    },
  },
  '/v1/webhooks': {
    get: {
      tags: ['webhooks'],
      operationId: 'listWebhooks',
      summary: 'the webhook endpoints and their deliveries (never a secret)',
      ...admin(ADMIN_OPS.webhooksRead),
      responses: { 200: json(object({ webhooks: { type: 'array', items: ref('Webhook') } }, ['webhooks']), 'the endpoints'), ...ADMIN_ERRORS },
    },
    post: {
      tags: ['webhooks'],
      operationId: 'addWebhook',
      summary: 'subscribe an http(s) URL to the requests of a group, a user, or all',
      description: 'Events (request.created, .approved, .denied, .withdrawn, .expired) are POSTed signed per Standard Webhooks; `slack` sends `{ "text": … }`. The signing secret is in this answer only.',
      ...admin(ADMIN_OPS.webhooksWrite),
      ...jsonBody(object({ url: text(2048), group: text(64), user: text(64), format: { enum: ['standard', 'slack'] } }, ['url'])),
      responses: {
        201: json(
          object(
            { id: WEBHOOK_ID, url: { type: 'string' }, addressee: nullable('string'), format: { enum: ['standard', 'slack'] }, createdAt: dateTime, secret: { type: 'string', pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', description: 'shown once' } },
            ['id', 'url', 'addressee', 'format', 'createdAt', 'secret'],
          ),
          'the endpoint and its signing secret',
        ),
        ...ADMIN_ERRORS,
      },
    },
  },
  '/v1/webhooks/{id}': {
    delete: {
      tags: ['webhooks'],
      operationId: 'removeWebhook',
      summary: 'remove an endpoint, its undelivered events and its attempts',
      ...admin(ADMIN_OPS.webhooksWrite),
      parameters: [pathParam('id', 'the endpoint id (wh_…)')],
      responses: { 200: json(object({ id: WEBHOOK_ID, removed: { const: true } }, ['id', 'removed']), 'removed'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/webhooks/{id}/test': {
    post: {
      tags: ['webhooks'],
      operationId: 'testWebhook',
      summary: 'queue a webhook.test event for one endpoint',
      ...admin(ADMIN_OPS.webhooksWrite),
      parameters: [pathParam('id', 'the endpoint id (wh_…)')],
      responses: { 202: json(object({ id: WEBHOOK_ID, eventId: { type: 'string', description: 'its webhook-id' } }, ['id', 'eventId']), 'queued'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/webhooks/{id}/attempts': {
    get: {
      tags: ['webhooks'],
      operationId: 'webhookAttempts',
      summary: "an endpoint's latest delivery attempts, newest first",
      ...admin(ADMIN_OPS.webhooksRead),
      parameters: [pathParam('id', 'the endpoint id (wh_…)'), query('limit', { type: 'string', pattern: '^[0-9]+$' }, 'at most this many (1 to 100, default 20)')],
      responses: { 200: json(object({ attempts: { type: 'array', items: ref('WebhookAttempt') } }, ['attempts']), 'the attempts'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/verify': {
    post: {
      tags: ['verify'],
      operationId: 'verify',
      summary: 'does a token (with its discharges) allow a request?',
      description: "A token's verdict is answered 200 (allowed: false with the error naming the failing caveat); a 4xx is about this request or its admin token.",
      ...admin(ADMIN_OPS.verify),
      ...jsonBody(
        object(
          {
            token: TOKEN_TEXT,
            discharges: { type: 'array', maxItems: DEFAULT_LIMITS.maxDischarges, items: TOKEN_TEXT },
            context: object(Object.fromEntries(['operation', 'resource', 'method', 'ip', 'tool', 'audience'].map((f) => [f, text(1024)]))),
            explain: { type: 'boolean', description: 'judge every caveat, count no use' },
          },
          ['token'],
        ),
      ),
      responses: { 200: json({ oneOf: [ref('Allowed'), ref('Refused'), ref('Explanation')] }, 'the verdict'), ...ADMIN_ERRORS },
    },
  },
  '/v1/users': {
    get: {
      tags: ['users'],
      operationId: 'listUsers',
      summary: 'the approvers and their groups',
      ...admin(ADMIN_OPS.usersRead),
      responses: { 200: json(object({ users: { type: 'array', items: ref('User') } }, ['users']), 'every user, by name'), ...ADMIN_ERRORS },
    },
    post: {
      tags: ['users'],
      operationId: 'addUser',
      summary: 'add an approver; the password is hashed by the server, never answered',
      ...admin(ADMIN_OPS.usersWrite),
      ...jsonBody(object({ name: ref('Name'), groups: ref('Groups'), password: ref('Password') }, ['name', 'groups', 'password'])),
      responses: { 201: json(ref('User'), 'added'), ...errors(400, 401, 403, 409, 500) },
    },
  },
  '/v1/users/{name}/password': {
    post: {
      tags: ['users'],
      operationId: 'setUserPassword',
      summary: "set a new password; ends the user's browser sessions",
      ...admin(ADMIN_OPS.usersWrite),
      parameters: [pathParam('name', 'the user')],
      ...jsonBody(object({ password: ref('Password') }, ['password'])),
      responses: { 200: json(object({ name: { type: 'string' }, sessionsEnded: { type: 'integer', minimum: 0 } }, ['name', 'sessionsEnded']), 'changed'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/users/{name}/remove': {
    post: {
      tags: ['users'],
      operationId: 'removeUser',
      summary: 'remove an approver (their sessions end; their approver tokens stop working)',
      ...admin(ADMIN_OPS.usersWrite),
      parameters: [pathParam('name', 'the user')],
      ...jsonBody(object({}), false),
      responses: { 200: json(object({ name: { type: 'string' }, removed: { const: true } }, ['name', 'removed']), 'removed'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/users/{name}/approver-token': {
    post: {
      tags: ['users'],
      operationId: 'mintApproverToken',
      summary: `mint an approver token for the approvals API (aud ${APPROVER_AUDIENCE}, declared user <name>; 30 days unless ttl)`,
      ...admin(ADMIN_OPS.usersWrite),
      parameters: [pathParam('name', 'the user')],
      ...jsonBody(object({ ttl: ref('Duration') }), false),
      responses: {
        201: json(ref('MintedToken'), 'the token, shown this once', { 'Cache-Control': { schema: { const: 'no-store' } } }),
        ...errors(400, 401, 403, 404, 500),
      },
    },
  },
  '/v1/invites': {
    post: {
      tags: ['users'],
      operationId: 'inviteUser',
      summary: `a one-time enrolment link, valid ${INVITE_TTL_SECONDS / 3600} h: the person chooses their own password or passkey`,
      description: 'ERR_CONFLICT (409) when the user exists, unless it is passkey-only with no passkey registered yet and the groups are its groups: the link then lets the person finish setting up.',
      ...admin(ADMIN_OPS.usersWrite),
      ...jsonBody(object({ name: ref('Name'), groups: ref('Groups') }, ['name', 'groups'])),
      responses: {
        201: json(object({ url: { type: 'string', description: 'the link (its secret is shown this once)' }, name: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, expiresAt: dateTime }, ['url', 'name', 'groups', 'expiresAt']), 'the link'),
        ...errors(400, 401, 403, 409, 500),
      },
    },
  },
  '/v1/groups': {
    get: {
      tags: ['users'],
      operationId: 'listGroups',
      summary: "the approvers' groups: members, passkey-only or not, approver tokens allowed or not",
      ...admin(ADMIN_OPS.usersRead),
      responses: { 200: json(object({ groups: { type: 'array', items: ref('Group') } }, ['groups']), 'every group, by name'), ...ADMIN_ERRORS },
    },
  },
  '/v1/groups/{name}/{setting}': {
    post: {
      tags: ['users'],
      operationId: 'setGroup',
      summary: 'change one setting of a group (it need not have members yet)',
      description:
        "require-passkey: members sign in and approve only with a passkey; allow-password undoes it. allow-approver-tokens: the members' approver tokens approve the passkey-only group's requests all the same (ERR_NOT_FOUND, 404, for a group that is not passkey-only); refuse-approver-tokens undoes it.",
      ...admin(ADMIN_OPS.usersWrite),
      parameters: [pathParam('name', 'the group'), { name: 'setting', in: 'path', required: true, description: 'the setting', schema: { enum: [...GROUP_SETTINGS] } }],
      ...jsonBody(object({}), false),
      responses: {
        200: json(object({ name: { type: 'string' }, setting: { enum: [...GROUP_SETTINGS] }, changed: { type: 'boolean', description: 'false: it already was so' } }, ['name', 'setting', 'changed']), 'set'),
        ...errors(400, 401, 403, 404, 500),
      },
    },
  },
  '/v1/approvals': {
    get: {
      tags: ['approvals'],
      operationId: 'listApprovals',
      summary: "pending requests addressed to the approver token's user or their groups",
      ...approverToken(APPROVAL_OPS.read),
      responses: { 200: json(object({ approvals: { type: 'array', items: ref('Approval') } }, ['approvals']), 'oldest first'), ...errors(400, 401, 403, 500) },
    },
  },
  '/v1/approvals/{id}': {
    get: {
      tags: ['approvals'],
      operationId: 'getApproval',
      summary: 'one request the approver may see',
      ...approverToken(APPROVAL_OPS.read),
      parameters: [pathParam('id', 'the request (dr_…)')],
      responses: { 200: json(ref('Approval'), 'the request'), ...errors(400, 401, 403, 404, 500) },
    },
  },
  '/v1/approvals/{id}/approve': {
    post: {
      tags: ['approvals'],
      operationId: 'approveByApi',
      summary: 'approve, optionally for a shorter validity; audited through the approvals-api channel',
      ...approverToken(APPROVAL_OPS.approve),
      parameters: [pathParam('id', 'the request (dr_…)')],
      ...jsonBody(object({ validity: ref('Duration') }), false),
      responses: { 200: json(ref('Approval'), 'approved'), ...errors(400, 401, 403, 404, 409, 500) },
    },
  },
  '/v1/approvals/{id}/deny': {
    post: {
      tags: ['approvals'],
      operationId: 'denyByApi',
      summary: 'deny, saying why (the requester is told); audited through the approvals-api channel',
      ...approverToken(APPROVAL_OPS.deny),
      parameters: [pathParam('id', 'the request (dr_…)')],
      ...jsonBody(object({ reason: text(500) }, ['reason'])),
      responses: { 200: json(ref('Approval'), 'denied'), ...errors(400, 401, 403, 404, 409, 500) },
    },
  },
  '/metrics': {
    get: {
      tags: ['service'],
      operationId: 'metrics',
      summary: "this instance's metrics, Prometheus text format",
      description: 'Verifications by result, verify latency, revocation propagation, revoked-set size, pending approvals, database connections. Needs the optional package prom-client (else 500 ERR_CONFIG).',
      ...admin(ADMIN_OPS.metricsRead),
      responses: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } }, ...ADMIN_ERRORS },
    },
  },
  '/.well-known/tessera/discharger': {
    get: {
      tags: ['discharge'],
      operationId: 'discharger',
      summary: "the discharge service's location and public key, to add approval caveats offline",
      ...open,
      responses: {
        200: json(object({ location: { type: 'string' }, publicKey: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'X25519, unpadded base64url' }, version: { const: 2 } }, ['location', 'publicKey', 'version']), 'cacheable for five minutes'),
      },
    },
  },
  '/v1/discharge': {
    post: {
      tags: ['discharge'],
      operationId: 'requestDischarge',
      summary: "ask for a discharge (a person's approval); the third-party caveat's ticket is the credential",
      ...open,
      ...jsonBody(
        object(
          {
            id: { ...text(), description: "the third-party caveat's id, base64 (the ticket itself, or bakery v3's short id)" },
            ticket: { ...text(), description: 'base64: the ticket when it travels apart from the caveat id (bakery v3); the discharge is minted under id' },
            caveats: { type: 'array', maxItems: MAX_CLAIMED_CAVEATS, items: text(MAX_CLAIMED_CAVEAT_LENGTH), description: "the token's first-party caveats, shown to the approver as a claim" },
            presentation: { ...text(MAX_PRESENTATION_CHARS), description: 'who asks: the token attenuated to `aud <this discharge service>` and a near time-before; verified and shown as fact' },
            reason: { ...text(MAX_REQUEST_REASON), description: "the requester's words, shown to the approver" },
            private: { type: 'boolean', description: 'the requester chose to show nothing of its token' },
          },
          ['id'],
        ),
      ),
      responses: {
        200: json(ref('Discharge'), 'nothing to wait for'),
        202: json(object({ approvalUrl: { type: 'string' }, pollUrl: { type: 'string' }, expiresAt: dateTime }, ['approvalUrl', 'pollUrl', 'expiresAt']), 'a person must decide: long-poll pollUrl'),
        ...errors(400, 403, 429, 500),
      },
    },
  },
  '/v1/discharge/poll/{secret}': {
    get: {
      tags: ['discharge'],
      operationId: 'pollDischarge',
      summary: 'long-poll for the decision and the discharge; the poll secret is the credential',
      description: `Collecting is retry-safe: a client whose answer was lost polls again and gets the same discharge within ${RECOLLECT_SECONDS} s of its collection; after that the poll URL is refused (403 ERR_FORBIDDEN).`,
      ...open,
      parameters: [pathParam('secret', 'from pollUrl'), query('wait', { type: 'integer', minimum: 0, maximum: 999999 }, 'seconds to wait for a decision (shortened to what the service allows)')],
      responses: {
        200: json(ref('Discharge'), `approved: the discharge (the same again within ${RECOLLECT_SECONDS} s: retry-safe collection)`),
        202: json(object({ status: { const: 'pending' }, approvalUrl: { type: 'string' }, expiresAt: dateTime }, ['status', 'approvalUrl', 'expiresAt']), 'still pending (Retry-After: 1)'),
        403: json(
          { allOf: [ref('Error403')], properties: { error: { properties: { details: ref('PollRefusal') } } } },
          `ERR_DENIED: no discharge will come (details.status says why: denied, expired, withdrawn or lapsed; reason and decidedBy when known); ERR_FORBIDDEN: collected more than ${RECOLLECT_SECONDS} s ago`,
        ),
        ...errors(400, 404, 429, 500),
      },
    },
  },
  '/approve': { get: { tags: PAGES_TAG, operationId: 'approvePagesRoot', summary: 'to the approval pages', ...open, responses: { 301: redirect('to /approve/') } } },
  '/approve/': {
    get: { tags: PAGES_TAG, operationId: 'approvePending', summary: 'the approval pages: requests to approve or deny', ...approver, responses: { 200: htmlPage('the pending requests'), 303: TO_LOGIN } },
  },
  '/approve/style.css': {
    get: { tags: PAGES_TAG, operationId: 'approveStylesheet', summary: "the pages' stylesheet", ...open, responses: { 200: { description: 'CSS', content: { 'text/css': { schema: { type: 'string' } } } } } },
  },
  '/approve/login': {
    get: { tags: PAGES_TAG, operationId: 'approveLoginPage', summary: 'the sign-in page', ...open, parameters: [query('next', { type: 'string' }, 'where to go after signing in (a path under /approve/)')], responses: { 200: htmlPage('the form'), 303: redirect('already signed in') } },
    post: {
      tags: PAGES_TAG,
      operationId: 'approveLogin',
      summary: `sign in (the form's csrf must match the ${LOGIN_CSRF_COOKIE} cookie)`,
      ...open,
      ...formBody({ type: 'object', properties: { name: { type: 'string' }, password: { type: 'string' }, csrf: { type: 'string' }, next: { type: 'string' } }, required: ['csrf'] }),
      responses: { 303: redirect(`signed in: the ${SESSION_COOKIE} cookie is set`), ...htmlErrors(400, 401, 403, 429) },
    },
  },
  '/approve/passkey.js': {
    get: { tags: PAGES_TAG, operationId: 'approvePasskeyScript', summary: "the pages' passkey script (the only script; same origin, under the pages' CSP)", ...open, responses: { 200: { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } } } },
  },
  '/approve/passkeys': {
    get: { tags: PAGES_TAG, operationId: 'approvePasskeysPage', summary: "the signed-in person's passkeys, and a button to register one", ...approver, responses: { 200: htmlPage('the passkeys'), 303: TO_LOGIN } },
  },
  '/approve/passkeys/options': {
    post: {
      tags: PAGES_TAG,
      operationId: 'approvePasskeyRegistrationOptions',
      summary: "start registering a passkey: WebAuthn creation options with a new challenge bound to the session (application/json, the session's csrf)",
      ...approver,
      ...jsonBody(object({ csrf: { type: 'string' } }, ['csrf'])),
      responses: { 200: json(PASSKEY_OPTIONS, 'PublicKeyCredentialCreationOptionsJSON'), ...errors(400, 401, 403, 500) },
    },
  },
  '/approve/passkeys/register': {
    post: {
      tags: PAGES_TAG,
      operationId: 'approvePasskeyRegister',
      summary: "finish registering: the browser's credential.toJSON() for that challenge (user verification required)",
      ...approver,
      ...jsonBody(object({ csrf: { type: 'string' }, next: { type: 'string' }, credential: { type: 'object' } }, ['csrf', 'credential'])),
      responses: { 200: json(PASSKEY_NEXT, 'registered'), ...errors(400, 401, 403, 409, 500) },
    },
  },
  '/approve/passkeys/remove': {
    post: {
      tags: PAGES_TAG,
      operationId: 'approvePasskeyRemove',
      summary: "remove one of one's passkeys (a passkey-only user: from a passkey session)",
      ...approver,
      ...formBody(object({ csrf: { type: 'string' }, id: { type: 'string' } }, ['csrf', 'id'])),
      responses: { 303: redirect('to the passkeys page'), ...htmlErrors(400, 401, 403, 404) },
    },
  },
  '/approve/login/passkey/options': {
    post: {
      tags: PAGES_TAG,
      operationId: 'approvePasskeySignInOptions',
      summary: `start a passkey sign-in: WebAuthn request options (discoverable credentials) with a new challenge bound to the ${LOGIN_CSRF_COOKIE} cookie, which csrf repeats`,
      ...open,
      ...jsonBody(object({ csrf: { type: 'string' } }, ['csrf'])),
      responses: { 200: json(PASSKEY_OPTIONS, 'PublicKeyCredentialRequestOptionsJSON'), ...errors(400, 403, 429, 500) },
    },
  },
  '/approve/login/passkey': {
    post: {
      tags: PAGES_TAG,
      operationId: 'approvePasskeySignIn',
      summary: "sign in with the browser's credential.toJSON() for that challenge; each challenge is answered once",
      ...open,
      ...jsonBody(object({ csrf: { type: 'string' }, next: { type: 'string' }, credential: { type: 'object' } }, ['csrf', 'credential'])),
      responses: { 200: json(PASSKEY_NEXT, `signed in: the ${SESSION_COOKIE} cookie is set; go to next`), ...errors(400, 401, 403, 500) },
    },
  },
  '/approve/logout': {
    post: { tags: PAGES_TAG, operationId: 'approveLogout', summary: 'sign out', ...approver, ...formBody(object({ csrf: { type: 'string' } }, ['csrf'])), responses: { 303: redirect('to the sign-in page'), ...htmlErrors(400, 401, 403) } },
  },
  '/approve/tokens': {
    get: { tags: PAGES_TAG, operationId: 'approverTokenPage', summary: 'make an approver token for a bot deciding for this person', ...approver, responses: { 200: htmlPage('the form'), 303: TO_LOGIN } },
    post: {
      tags: PAGES_TAG,
      operationId: 'approverTokenMint',
      summary: 'mint an approver token (aud tessera-approvals, declared user <me>); the page shows it once',
      ...approver,
      ...formBody(object({ csrf: { type: 'string' }, days: { enum: ['1', '7', '30'] } }, ['csrf', 'days'])),
      responses: { 200: htmlPage('the token, shown once'), ...htmlErrors(400, 401, 403) },
    },
  },
  '/approve/enrol/{token}': {
    get: {
      tags: PAGES_TAG,
      operationId: 'enrolPage',
      summary: 'an invitation link: the form to choose a password (or, where the system offers passkeys, to set up with a passkey)',
      ...open,
      parameters: [pathParam('token', "the invitation's secret, from its link")],
      responses: { 200: htmlPage('the form'), ...htmlErrors(404, 409) },
    },
    post: {
      tags: PAGES_TAG,
      operationId: 'enrol',
      summary: `create the account and sign in; the link is spent (the form's csrf must match the ${LOGIN_CSRF_COOKIE} cookie). method=passkey (only where passkeys are offered, else 400): a passkey-only account with no usable password, on to /approve/passkeys to register it`,
      ...open,
      parameters: [pathParam('token', "the invitation's secret, from its link")],
      ...formBody(object({ csrf: { type: 'string' }, method: { enum: ['password', 'passkey'] }, username: { type: 'string' }, password: { type: 'string' }, passwordAgain: { type: 'string' } }, ['csrf'])),
      responses: { 303: redirect(`enrolled and signed in: the ${SESSION_COOKIE} cookie is set; to /approve/ (password) or /approve/passkeys (passkey)`), ...htmlErrors(400, 403, 404, 409, 429) },
    },
  },
  '/approve/history': {
    get: { tags: PAGES_TAG, operationId: 'approveHistory', summary: 'requests already decided', ...approver, responses: { 200: htmlPage('the history'), 303: TO_LOGIN } },
  },
  '/approve/activity': {
    get: { tags: PAGES_TAG, operationId: 'approveActivity', summary: "the audit trail of the approver's requests: who asked, decided, withdrew or collected, through which channel", ...approver, responses: { 200: htmlPage('the activity'), 303: TO_LOGIN } },
  },
  '/approve/requests/{id}': {
    get: { tags: PAGES_TAG, operationId: 'approveRequest', summary: 'one request: who asks, the condition, the caveats', ...approver, parameters: [pathParam('id', 'the request')], responses: { 200: htmlPage('the request'), 303: TO_LOGIN, ...htmlErrors(404) } },
  },
  '/approve/requests/{id}/approve': {
    post: {
      tags: PAGES_TAG,
      operationId: 'approve',
      summary: 'approve (optionally for fewer minutes)',
      ...approver,
      parameters: [pathParam('id', 'the request')],
      ...formBody(object({ csrf: { type: 'string' }, validityMinutes: { type: 'string', pattern: '^[0-9]*$' } }, ['csrf'])),
      responses: { 303: redirect('to the request'), ...htmlErrors(400, 401, 403, 404, 409) },
    },
  },
  '/approve/requests/{id}/deny': {
    post: {
      tags: PAGES_TAG,
      operationId: 'deny',
      summary: 'deny, saying why',
      ...approver,
      parameters: [pathParam('id', 'the request')],
      ...formBody(object({ csrf: { type: 'string' }, reason: { type: 'string' } }, ['csrf', 'reason'])),
      responses: { 303: redirect('to the request'), ...htmlErrors(400, 401, 403, 404, 409) },
    },
  },
  '/approve/requests/{id}/withdraw': {
    post: {
      tags: PAGES_TAG,
      operationId: 'withdraw',
      summary: 'take back an approval whose discharge was not collected yet (its poll then answers ERR_DENIED, status withdrawn)',
      ...approver,
      parameters: [pathParam('id', 'the request')],
      ...formBody(object({ csrf: { type: 'string' } }, ['csrf'])),
      responses: { 303: redirect('to the request'), ...htmlErrors(400, 401, 403, 404, 409) },
    },
  },
  ...BAKERY_PATHS,
} as const satisfies OpenApiDocument['paths'];

/** The `error` member of an error body (also what /v1/verify says a refused token failed with). */
const ERROR_BODY = object({ code: ref('ErrorCode'), message: { type: 'string' }, details: { type: 'object', description: 'e.g. field, caveat, reason' } }, ['code', 'message']);

const SCHEMAS: Record<string, Schema> = {
  Error: {
    type: 'object',
    description: 'Every error. Switch on code (stable); the message may change and never holds a secret.',
    required: ['error'],
    additionalProperties: false,
    properties: { error: ERROR_BODY },
  },
  ErrorCode: {
    enum: ERROR_CODES,
    description: 'Every error code; x-tessera-status gives the HTTP status each is answered with.',
    'x-tessera-status': { ...ERROR_STATUS },
  },
  ...Object.fromEntries(
    ERROR_STATUSES.map((s) => [`Error${s}`, { allOf: [ref('Error')], properties: { error: { properties: { code: { enum: codesFor(s) } } } } }]),
  ),
  Duration: {
    description: 'whole seconds, or digits with one unit: 90s, 15m, 2h, 7d, 2w',
    oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]{1,12}[smhdw]?$' }],
  },
  MintedToken: object(
    { token: TOKEN_TEXT, identifier: { type: 'string' }, keyId: { type: 'string' }, caveats: { type: 'array', items: { type: 'string' } }, label: nullable('string'), expiresAt: nullable('string', { format: 'date-time' }) },
    ['token', 'identifier', 'keyId', 'caveats', 'label', 'expiresAt'],
  ),
  TokenState: { enum: TOKEN_STATES },
  TokenListing: object(
    {
      identifier: { type: 'string' },
      label: nullable('string'),
      subject: nullable('string'),
      keyId: { type: 'string' },
      createdAt: dateTime,
      expiresAt: nullable('string', { format: 'date-time' }),
      state: ref('TokenState'),
      revokedAt: nullable('string', { format: 'date-time' }),
    },
    ['identifier', 'label', 'subject', 'keyId', 'createdAt', 'expiresAt', 'state', 'revokedAt'],
  ),
  TokenStatus: object(
    {
      identifier: { type: 'string' },
      purpose: { enum: ['token', 'admin', 'approver'] },
      keyId: { type: 'string' },
      keyState: { enum: ['current', 'verifying', 'retired', 'unknown'] },
      label: nullable('string'),
      subject: nullable('string'),
      createdAt: dateTime,
      expiresAt: nullable('string', { format: 'date-time' }),
      revoked: { type: 'boolean' },
      revokedAt: nullable('string', { format: 'date-time' }),
      revocationReason: nullable('string'),
      active: { type: 'boolean', description: 'not revoked, not expired, and its key still verifies (caveats may still restrict it)' },
    },
    ['identifier', 'purpose', 'keyId', 'keyState', 'label', 'subject', 'createdAt', 'expiresAt', 'revoked', 'revokedAt', 'revocationReason', 'active'],
  ),
  AuditEvent: object(
    { id: { type: 'integer' }, at: dateTime, actor: { type: 'string' }, channel: { type: 'string' }, action: { type: 'string' }, subject: nullable('string'), details: { type: 'object' } },
    ['id', 'at', 'actor', 'channel', 'action', 'subject', 'details'],
  ),
  WebhookAttempt: object(
    { eventId: { type: 'string' }, type: { type: 'string' }, at: dateTime, ok: { type: 'boolean' }, statusCode: nullable('integer'), latencyMs: { type: 'integer', minimum: 0 }, error: nullable('string') },
    ['eventId', 'type', 'at', 'ok', 'statusCode', 'latencyMs', 'error'],
  ),
  Webhook: object(
    {
      id: WEBHOOK_ID,
      url: { type: 'string', description: 'path segments that may be credentials shortened' },
      addressee: nullable('string', { description: 'a user, `group:<name>`, or null for every request' }),
      format: { enum: ['standard', 'slack'] },
      createdAt: dateTime,
      deliveries: object({ pending: { type: 'integer' }, delivered: { type: 'integer' }, failed: { type: 'integer' } }, ['pending', 'delivered', 'failed']),
      lastAttempt: { oneOf: [ref('WebhookAttempt'), { type: 'null' }] },
    },
    ['id', 'url', 'addressee', 'format', 'createdAt', 'deliveries', 'lastAttempt'],
  ),
  Key: object(
    { id: { type: 'string' }, state: { enum: ['current', 'verifying', 'retired'] }, createdAt: dateTime, expiresAt: nullable('string', { format: 'date-time' }), retiredAt: nullable('string', { format: 'date-time' }) },
    ['id', 'state', 'createdAt', 'expiresAt', 'retiredAt'],
  ),
  Allowed: object(
    { allowed: { const: true }, identifier: nullable('string'), caveats: { type: 'array', items: { type: 'string' } }, declared: { type: 'object', additionalProperties: { type: 'string' } } },
    ['allowed', 'identifier', 'caveats', 'declared'],
  ),
  Name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description: 'a user or group name, as discharge conditions name them' },
  Groups: { type: 'array', minItems: 1, maxItems: 100, items: ref('Name') },
  Password: { type: 'string', minLength: MIN_PASSWORD_LENGTH, maxLength: MAX_PASSWORD_LENGTH, description: 'sent once, hashed (scrypt) by the server; never answered or logged' },
  User: object({ name: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, createdAt: dateTime }, ['name', 'groups', 'createdAt']),
  Group: object(
    { name: { type: 'string' }, members: { type: 'array', items: { type: 'string' } }, requirePasskey: { type: 'boolean' }, approverTokens: { type: 'boolean', description: "passkey-only, and its members' approver tokens approve its requests" } },
    ['name', 'members', 'requirePasskey', 'approverTokens'],
  ),
  Approval: object(
    {
      id: { type: 'string' },
      status: { enum: ['pending', 'approved', 'denied', 'expired', 'collected', 'withdrawn', 'lapsed'] },
      condition: { type: 'string' },
      who: { type: 'string', description: 'a user name, or group:<name>' },
      what: { type: 'string' },
      requester: { type: 'object', description: 'what the requester stated about itself (unverified)' },
      shown: { type: 'object', description: 'what the requester showed of its token: kind verified (with the verified facts), unverified, private or none' },
      requestReason: { type: 'string', description: "the requester's words (unverified)" },
      otherCaveats: { type: 'array', items: { type: 'string' }, description: 'caveats the requester says its token has (unverified)' },
      createdAt: dateTime,
      expiresAt: dateTime,
      validitySeconds: { type: 'integer', minimum: 1 },
      validUntil: dateTime,
      decidedAt: dateTime,
      decidedBy: { type: 'string' },
      reason: { type: 'string', description: 'why it was denied' },
    },
    ['id', 'status', 'condition', 'who', 'what', 'requester', 'shown', 'otherCaveats', 'createdAt', 'expiresAt', 'validitySeconds'],
    { description: 'a discharge request, as its approver sees it' },
  ),
  Refused: object({ allowed: { const: false }, error: ERROR_BODY }, ['allowed', 'error']),
  Explanation: object(
    {
      allowed: { type: 'boolean' },
      explain: { const: true },
      identifier: nullable('string'),
      error: object({ code: ref('ErrorCode'), message: { type: 'string' } }, ['code', 'message']),
      caveats: {
        type: 'array',
        items: object(
          { condition: { type: 'string' }, ok: { type: 'boolean' }, code: ref('ErrorCode'), reason: { type: 'string' }, depth: { type: 'integer', minimum: 0 }, source: { enum: ['token', 'discharge'] } },
          ['condition', 'ok', 'depth', 'source'],
        ),
      },
    },
    ['allowed', 'explain', 'identifier', 'caveats'],
  ),
  PollRefusal: object(
    {
      status: { enum: ['denied', 'expired', 'withdrawn', 'lapsed', 'collected'] },
      reason: { type: 'string', description: "the approver's words (denied)" },
      decidedBy: { type: 'string' },
    },
    ['status'],
    { description: 'why a poll yields no discharge' },
  ),
  BakeryError: object(
    {
      Code: { enum: ['bad request', 'permission denied', 'interaction required', 'not found', 'too many requests', 'internal error'] },
      Message: { type: 'string' },
      Info: { type: 'object' },
    },
    ['Code', 'Message'],
    { description: "the bakery's error shape (httpbakery.Error), with its own statuses" },
  ),
  BakeryInteractionRequired: object(
    {
      Code: { const: 'interaction required' },
      Message: { type: 'string' },
      Info: object(
        {
          InteractionMethods: object(
            { 'browser-window': object({ VisitURL: { type: 'string', description: 'the approval page' }, WaitTokenURL: { type: 'string' } }, ['VisitURL', 'WaitTokenURL']) },
            ['browser-window'],
          ),
          VisitURL: { type: 'string', description: 'legacy: the approval page' },
          WaitURL: { type: 'string', description: 'legacy: GET it for { Macaroon }' },
        },
        ['InteractionMethods', 'VisitURL', 'WaitURL'],
      ),
    },
    ['Code', 'Message', 'Info'],
  ),
  BakeryInfo: object({ PublicKey: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}=$', description: 'X25519, standard padded base64' }, Version: { const: 3 } }, ['PublicKey', 'Version']),
  BakeryPublicKey: object({ PublicKey: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}=$' } }, ['PublicKey']),
  BakeryDischarge: object(
    {
      Macaroon: {
        description: "the discharge in the bakery's JSON: v3 `{ m, v: 3, ns }` for a v3 caveat, else the macaroon JSON itself (as go-macaroon writes it, no v)",
        oneOf: [object({ m: ref('BakeryMacaroonJSON'), v: { const: 3 }, ns: { type: 'string' } }, ['m', 'v', 'ns']), ref('BakeryMacaroonJSON')],
      },
    },
    ['Macaroon'],
  ),
  BakeryMacaroonJSON: {
    type: 'object',
    properties: { l: { type: 'string' }, i: { type: 'string' }, i64: { type: 'string' }, c: { type: 'array', items: { type: 'object' } }, s: { type: 'string' }, s64: { type: 'string' } },
    anyOf: [{ required: ['s64'] }, { required: ['s'] }],
    not: { required: ['v'] },
  },
  BakeryWaitToken: object({ kind: { const: BAKERY_TOKEN_KIND }, token64: { type: 'string', pattern: '^[A-Za-z0-9+/]+=*$', description: 'the discharge, V2 binary, standard padded base64' } }, ['kind', 'token64']),
  Discharge: object({ discharge: { type: 'string', description: 'the unbound discharge macaroon, V2 base64url: bind it to the token' } }, ['discharge']),
  FrontDoor: object(
    {
      service: { const: 'tessera' },
      location: { type: 'string' },
      links: { type: 'object', additionalProperties: { type: 'string' } },
      endpoints: {
        type: 'array',
        items: object({ method: { enum: ['GET', 'POST', 'DELETE'] }, path: { type: 'string' }, needs: { type: 'string' }, what: { type: 'string' } }, ['method', 'path', 'needs', 'what']),
      },
    },
    ['service', 'location', 'links', 'endpoints'],
  ),
};

const ERROR_RESPONSES = Object.fromEntries(
  ERROR_STATUSES.map((s) => [`Error${s}`, { description: `an error: ${codesFor(s).join(', ')}`, content: { 'application/json': { schema: ref(`Error${s}`) } } }]),
);

let cached: OpenApiDocument | undefined;

/** The document (built once; deeply frozen). */
export function openApiDocument(): OpenApiDocument {
  cached ??= deepFreeze({
    openapi: '3.1.0',
    info: {
      title: 'Tessera',
      version: tesseraVersion(),
      description:
        'Macaroon capability tokens: the issuer (admin API), the discharge protocol and the approval pages. Every error is `{ "error": { "code", "message", "details"? } }` with the status its code maps to (components.schemas.ErrorCode), except under the bakery tag, which speaks the Go/Python bakery\'s own JSON.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'service', description: 'no credential' },
      { name: 'tokens', description: 'the admin API: an admin token (aud tessera-admin) whose ops caveat allows the operation named in security' },
      { name: 'audit' },
      { name: 'keys' },
      { name: 'verify' },
      { name: 'webhooks', description: 'where approval requests are announced: signed Standard Webhooks, or Slack messages' },
      { name: 'users', description: 'approver accounts, their groups, invitations and approver tokens: the admin API (ops users:read, users:write)' },
      { name: 'approvals', description: `for programs deciding for one approver (a chat bot): an approver token (aud ${APPROVER_AUDIENCE}, declared user <name>) whose caveats allow the operation named in security; resource /v1/approvals/<id> limits it to one request` },
      { name: 'discharge', description: 'the third-party discharge protocol (bakery v2 tickets as caveat ids, or v3 tickets apart): the ticket or the poll secret is the credential' },
      { name: BAKERY_TAG[0] as string, description: "the Go/Python macaroon bakery's HTTP discharge protocol, for stock bakery clients: its own JSON (`{ Code, Message, Info? }` errors with its statuses), not Tessera's `{ error }`" },
      { name: PAGES_TAG[0] as string, description: 'for people in a browser: HttpOnly session cookie, CSRF-checked forms; not an API to generate a client for' },
    ],
    paths: PATHS,
    components: {
      securitySchemes: {
        macaroon: { type: 'http', scheme: 'Macaroon', description: 'Authorization: Macaroon <token>[,<discharge>...]; the role is the admin operation the ops caveat must allow' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'macaroon', description: 'the same as Macaroon, for clients that only know Bearer' },
        approverSession: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'set by POST /approve/login' },
        approverToken: { type: 'http', scheme: 'Macaroon', description: 'Authorization: Macaroon <approver token>; the role is the approvals operation an ops caveat may restrict it to' },
      },
      schemas: SCHEMAS,
      responses: ERROR_RESPONSES,
    },
  } satisfies OpenApiDocument);
  return cached;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** `GET /openapi.json`: the document with this server's URL; public, cacheable for five minutes. */
export function openApiRoute(options: { readonly publicUrl: string }): Hono {
  let body: string | undefined;
  const app = new Hono();
  app.get('/openapi.json', (c) => {
    body ??= JSON.stringify({ ...openApiDocument(), servers: [{ url: options.publicUrl.replace(/\/+$/, '') }] });
    return c.body(body, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300' });
  });
  return app;
}
