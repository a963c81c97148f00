/**
 * The approvals API: what a chat bot (or any program) acting for one approver calls.
 *
 *   GET  /v1/approvals                  pending requests addressed to the approver or their groups
 *   GET  /v1/approvals/:id              one request                            op approvals:read
 *   POST /v1/approvals/:id/approve      approve, optionally `{ "validity": "10m" }`   op approvals:approve
 *   POST /v1/approvals/:id/deny         deny, `{ "reason": "…" }`               op approvals:deny
 *
 * Authenticated by an *approver token*: a macaroon minted for one approver (`tsp1.` identifier,
 * signed with the approver-purpose key, so no application or admin token passes) with the
 * caveats `aud tessera-approvals` and `declared user <name>`, verified by the system's keyring
 * and revocation set like every other token. Its holder narrows it offline before handing it
 * to a bot: `time-before …`, `ops approvals:read`, or `resource /v1/approvals/<request id>` for
 * one request (the request context's `resource` is `/v1/approvals` for the list and
 * `/v1/approvals/<id>` for everything about one request; `operation` is the op above, the list
 * being `approvals:read`).
 *
 * Who the caller is comes from the token's record (subject `approver:<name>`), which must agree
 * with its `declared user`; the user's groups are read on every request, and a token minted
 * before the account (a removed and re-added name) is refused. Whether the approver may decide
 * a request is the discharge service's rule, as on the approval pages; decisions are audited
 * with the channel `approvals-api`.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { TesseraError, limit } from '../errors.js';
import { macaroonAuth, type ClientIpSource } from '../hono/node.js';
import { durationField, readJsonObject, stringField } from '../http/body.js';
import type { Store } from '../storage/index.js';
import type { Verifier } from '../verifier/index.js';
import type { Approver, PendingView } from './service.js';
import type { ApprovalService } from './web/types.js';
import { requiresPasskey } from './web/passkey-policy.js';
import { APPROVALS_CHANNEL, APPROVAL_OPS, APPROVER_AUDIENCE, APPROVER_SUBJECT_PREFIX } from './approver-tokens.js';

export { APPROVALS_CHANNEL, APPROVAL_OPS, APPROVER_AUDIENCE, APPROVER_TOKEN_TTL_SECONDS, approverCaveats, mintApproverToken } from './approver-tokens.js';

const SUBJECT_PREFIX = APPROVER_SUBJECT_PREFIX;
const MAX_BODY = 8 * 1024;
const MAX_REASON = 500;
/** The longest validity asked for here; the service applies its own, lower, maximum. */
const MAX_VALIDITY_SECONDS = 86_400;

export interface ApprovalsRoutesOptions {
  readonly service: Pick<ApprovalService, 'listPending' | 'get' | 'decide'>;
  readonly store: Pick<Store, 'users' | 'tokens' | 'passkeys'>;
  /** Verifies approver tokens (purpose 'approver', audience APPROVER_AUDIENCE). */
  readonly verifier: Verifier;
  readonly clientIp?: ClientIpSource;
}

/** A request as this API shows it (dates as RFC 3339 through JSON). */
const approvalJson = (v: PendingView) => ({
  id: v.id,
  status: v.status,
  condition: v.condition,
  who: v.who,
  what: v.what,
  requester: v.requester,
  shown: v.shown,
  ...(v.requestReason !== undefined ? { requestReason: v.requestReason } : {}),
  otherCaveats: v.otherCaveats,
  createdAt: v.createdAt.toISOString(),
  expiresAt: v.expiresAt.toISOString(),
  validitySeconds: v.validitySeconds,
  ...(v.validUntil !== undefined ? { validUntil: v.validUntil.toISOString() } : {}),
  ...(v.decidedAt !== undefined ? { decidedAt: v.decidedAt.toISOString() } : {}),
  ...(v.decidedBy !== undefined ? { decidedBy: v.decidedBy } : {}),
  ...(v.reason !== undefined ? { reason: v.reason } : {}),
});

const forbidden = (message: string): TesseraError => new TesseraError('ERR_FORBIDDEN', message);

export function approvalsRoutes(options: ApprovalsRoutesOptions): Hono {
  const { service, store, verifier } = options;
  const app = new Hono();

  /** The request path's id, undecoded as the resource caveats see it. */
  const requestResource = (c: Context): string => `/v1/approvals/${encodeURIComponent(c.req.param('id') ?? '')}`;
  const auth = (operation: string, one: boolean) =>
    macaroonAuth({
      verifier,
      context: (c) => ({ operation, audience: APPROVER_AUDIENCE, resource: one ? requestResource(c) : '/v1/approvals' }),
      realm: APPROVER_AUDIENCE,
      ...(options.clientIp !== undefined ? { clientIp: options.clientIp } : {}),
    });
  const sized = bodyLimit({
    maxSize: MAX_BODY,
    onError: () => {
      throw limit(`request body is larger than ${MAX_BODY} bytes`, { field: 'body' });
    },
  });

  /** The approver the verified token speaks for, with their groups as they are now. */
  const approverOf = async (c: Context): Promise<Approver> => {
    const verified = c.get('tessera');
    const record = verified.identifierText === undefined ? undefined : await store.tokens.get(verified.identifierText);
    const name = record?.subject?.startsWith(SUBJECT_PREFIX) === true ? record.subject.slice(SUBJECT_PREFIX.length) : undefined;
    if (name === undefined || verified.declared.get('user') !== name) throw forbidden('this token does not speak for an approver');
    const user = await store.users.get(name);
    // A token minted before the account existed belongs to an earlier user of that name.
    if (user === undefined || record === undefined || record.createdAt.getTime() < user.createdAt.getTime()) {
      throw forbidden(`there is no approver ${name} any more`);
    }
    return { name: user.name, groups: [...user.groups] };
  };

  const requestId = (c: Context): string => c.req.param('id') ?? '';

  app.get('/v1/approvals', auth(APPROVAL_OPS.read, false), async (c) => {
    const pending = await service.listPending(await approverOf(c));
    c.header('cache-control', 'no-store');
    return c.json({ approvals: pending.map(approvalJson) });
  });

  app.get('/v1/approvals/:id', auth(APPROVAL_OPS.read, true), async (c) => {
    const view = await service.get(requestId(c), await approverOf(c));
    if (view === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such request, or it is not yours to see', { field: 'id' });
    c.header('cache-control', 'no-store');
    return c.json(approvalJson(view));
  });

  app.post('/v1/approvals/:id/approve', auth(APPROVAL_OPS.approve, true), sized, async (c) => {
    const approver = await approverOf(c);
    const body = await readJsonObject(c, ['validity'], { emptyOk: true, maxBytes: MAX_BODY });
    const validitySeconds = durationField(body, 'validity', { min: 1, max: MAX_VALIDITY_SECONDS });
    const request = await service.get(requestId(c), approver);
    if (request !== undefined && (await requiresPasskey(store, approver.name, request.who, { approverToken: true }))) {
      throw forbidden(`approving for ${request.who} needs a passkey: approve it on the approval pages (or the group allows approver tokens: tessera groups allow-approver-tokens <group>)`);
    }
    const view = await service.decide(requestId(c), approver, { approve: true, ...(validitySeconds !== undefined ? { validitySeconds } : {}) }, { channel: APPROVALS_CHANNEL });
    return c.json(approvalJson(view));
  });

  app.post('/v1/approvals/:id/deny', auth(APPROVAL_OPS.deny, true), sized, async (c) => {
    const approver = await approverOf(c);
    const body = await readJsonObject(c, ['reason'], { maxBytes: MAX_BODY });
    const reason = stringField(body, 'reason', { max: MAX_REASON });
    const view = await service.decide(requestId(c), approver, { approve: false, reason }, { channel: APPROVALS_CHANNEL });
    return c.json(approvalJson(view));
  });

  return app;
}
