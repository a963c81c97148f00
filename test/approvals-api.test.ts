/**
 * The approvals API (`/v1/approvals`, src/discharge/approvals-api.ts) with approver tokens, on
 * the whole system served for real: a bot's approval reaches a waiting `tessera discharge`; a
 * token narrowed to one request cannot decide another; the list shows only the caller's
 * requests; deny; bad ids, malformed or wrong tokens are clear 4xx answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVALS_CHANNEL, APPROVER_AUDIENCE, mintApproverToken } from '../src/discharge/approvals-api.js';
import { parseAuthorization } from '../src/hono/authorization.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { ADMIN_OPS } from '../src/issuer/routes.js';
import { runCli } from './support/cli.js';
import { incidentalBackend } from './support/databases.js';
import { requestDischarge, serveApprovalSystem, type ServedSystem } from './support/web-system.js';

let served: ServedSystem;
let alice: string;
let bob: string;

beforeAll(async () => {
  served = await serveApprovalSystem(await incidentalBackend.open());
  await served.addApprover('alice', 'alice-password', ['ops']);
  await served.addApprover('bob', 'bob-password', ['dev']);
  alice = (await mintApproverToken(served.system.issuer, { name: 'alice', actor: 'test' })).token;
  bob = (await mintApproverToken(served.system.issuer, { name: 'bob', actor: 'test' })).token;
});
afterAll(async () => {
  await served.close();
});

const narrow = (token: string, ...caveats: string[]): string => caveats.reduce((m, c) => m.addFirstPartyCaveat(c), Macaroon.decode(token)).encode();

async function call(method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) headers.authorization = `Macaroon ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${served.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const pendingIds = async (token: string): Promise<string[]> => {
  const answer = await call('GET', '/v1/approvals', token);
  expect(answer.status).toBe(200);
  return (answer.body.approvals as { id: string }[]).map((a) => a.id);
};

/** A pending request for `condition`, made through the discharge protocol; its id. */
async function ask(condition: string): Promise<string> {
  const { status, body } = await requestDischarge(served, await served.mint(condition));
  expect(status).toBe(202);
  return body.approvalUrl.split('/').pop() as string;
}

describe('approver tokens', () => {
  it('are their own kind: aud tessera-approvals, declared user, a tsp1 identifier no other verifier takes', async () => {
    const m = Macaroon.decode(alice);
    expect(m.identifierText).toMatch(/^tsp1\./);
    expect(m.caveats.map((c) => c.text)).toEqual([`aud ${APPROVER_AUDIENCE}`, 'declared user alice', expect.stringMatching(/^time-before /)]);
    await expect(served.system.verifier.verify(alice, { context: {} })).rejects.toMatchObject({ code: 'ERR_KEY_UNKNOWN' });
    await expect(served.system.adminVerifier.verify(alice, { context: { audience: 'tessera-admin', operation: ADMIN_OPS.usersWrite } })).rejects.toMatchObject({ code: 'ERR_KEY_UNKNOWN' });
    // An application token with the same caveats is no approver token.
    const lookalike = await served.system.issuer.mint({ caveats: [`aud ${APPROVER_AUDIENCE}`, 'declared user alice'] });
    expect((await call('GET', '/v1/approvals', lookalike.token)).status).toBe(401);
  });
});

describe('GET /v1/approvals', () => {
  it("lists only the caller's pending requests: addressed to them or their groups", async () => {
    const forAlice = await ask('approve alice rotate the keys');
    const forOps = await ask('approve group:ops restart web');
    const forBob = await ask('approve bob read logs');
    const aliceSees = await pendingIds(alice);
    expect(aliceSees).toEqual(expect.arrayContaining([forAlice, forOps]));
    expect(aliceSees).not.toContain(forBob);
    const bobSees = await pendingIds(bob);
    expect(bobSees).toContain(forBob);
    expect(bobSees).not.toContain(forAlice);
    expect(bobSees).not.toContain(forOps);

    const one = await call('GET', `/v1/approvals/${forOps}`, alice);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: forOps, status: 'pending', who: 'group:ops', what: 'restart web', condition: 'approve group:ops restart web' });
    expect((await call('GET', `/v1/approvals/${forOps}`, bob)).status).toBe(404);
  });
});

describe('POST /v1/approvals/:id/approve', () => {
  it('with a token narrowed to the request, reaches a waiting `tessera discharge`; narrowed to another request, it is refused', async () => {
    const token = await served.mint('approve alice deploy web', 'tool deploy');
    const other = await ask('approve alice something else');
    const waiting = runCli(['discharge', token.encode(), '--timeout', '30s']);

    // The bot finds the request the agent is waiting on, as its approver would.
    let id: string | undefined;
    while (id === undefined) {
      const answer = await call('GET', '/v1/approvals', alice);
      id = (answer.body.approvals as { id: string; what: string }[]).find((a) => a.what === 'deploy web')?.id;
      if (id === undefined) await new Promise((r) => setTimeout(r, 50));
    }

    const wrong = narrow(alice, `resource /v1/approvals/${other}`, 'time-before 2099-01-01T00:00:00Z');
    const refused = await call('POST', `/v1/approvals/${id}/approve`, wrong, {});
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'ERR_CAVEAT_FAILED' } });
    expect((await served.system.discharge.get(id, { name: 'alice', groups: [] }))?.status).toBe('pending');

    const bot = narrow(alice, `resource /v1/approvals/${id}`, 'ops approvals:approve');
    const approved = await call('POST', `/v1/approvals/${id}/approve`, bot, { validity: '2m' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ id, status: 'approved', decidedBy: 'alice', validitySeconds: 120 });

    const result = await waiting;
    expect(result.code).toBe(0);
    const credential = parseAuthorization(result.stdout.trim(), { maxHeaderLength: 16_384, maxDischarges: 32 });
    const verified = await served.system.verifier.verify(credential.token, { discharges: credential.discharges, context: { tool: 'deploy' } });
    expect(verified.declared.get('approved-by')).toBe('alice');

    // Audited with the channel it came through, by the approver.
    const events = await served.system.store.audit.list({ subject: id, action: 'approve' });
    expect(events.map((e) => [e.actor, e.channel])).toEqual([['alice', APPROVALS_CHANNEL]]);
    // The other request is untouched, and the one-request token cannot list.
    expect(await pendingIds(alice)).toContain(other);
    expect((await call('GET', '/v1/approvals', bot)).status).toBe(403);
  });

  it('is refused for a request addressed to someone else, and for one already decided', async () => {
    const forBob = await ask('approve bob drop the table');
    const notYours = await call('POST', `/v1/approvals/${forBob}/approve`, alice, {});
    expect(notYours.status).toBe(403);
    expect(notYours.body).toMatchObject({ error: { code: 'ERR_FORBIDDEN' } });
    expect((await call('POST', `/v1/approvals/${forBob}/approve`, bob)).status).toBe(200);
    const again = await call('POST', `/v1/approvals/${forBob}/approve`, bob, {});
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'ERR_CONFLICT' } });
  });
});

describe('POST /v1/approvals/:id/deny', () => {
  it('denies with the reason; a reason is required; an approve-only token cannot deny', async () => {
    const id = await ask('approve group:ops restart db');
    const approveOnly = narrow(alice, 'ops approvals:approve');
    expect((await call('POST', `/v1/approvals/${id}/deny`, approveOnly, { reason: 'no' })).status).toBe(403);
    const missing = await call('POST', `/v1/approvals/${id}/deny`, alice, {});
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: { code: 'ERR_INVALID_ARGUMENT', details: { field: 'reason' } } });
    const denied = await call('POST', `/v1/approvals/${id}/deny`, alice, { reason: 'not during the freeze' });
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({ id, status: 'denied', decidedBy: 'alice', reason: 'not during the freeze' });
    const events = await served.system.store.audit.list({ subject: id, action: 'deny' });
    expect(events.map((e) => e.channel)).toEqual([APPROVALS_CHANNEL]);
  });
});

describe('bad input is a clear 4xx, never a 5xx', () => {
  it('bad ids, bad bodies, missing, malformed, revoked and expired tokens, removed approvers', async () => {
    for (const id of ['nope', 'dr_AAAAAAAAAAAAAAAAAAAAAA', 'dr_' + 'x'.repeat(300), '%2e%2e']) {
      const answer = await call('POST', `/v1/approvals/${id}/approve`, alice, {});
      expect(answer.status, id).toBe(404);
      expect(answer.body).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } });
      expect((await call('GET', `/v1/approvals/${id}`, alice)).status).toBe(404);
    }
    const id = await ask('approve alice check inputs');
    const badBody = await call('POST', `/v1/approvals/${id}/approve`, alice, { validity: 'forever' });
    expect(badBody.status).toBe(400);
    expect(badBody.body).toMatchObject({ error: { code: 'ERR_INVALID_ARGUMENT', details: { field: 'validity' } } });
    const unknownField = await call('POST', `/v1/approvals/${id}/approve`, alice, { approve: true });
    expect(unknownField.status).toBe(400);

    expect((await call('GET', '/v1/approvals', undefined)).status).toBe(401);
    const garbage = await call('GET', '/v1/approvals', 'not-a-macaroon');
    expect(garbage.status).toBe(401);
    expect(JSON.stringify(garbage.body)).not.toContain('not-a-macaroon');
    expect((await call('GET', '/v1/approvals', alice.slice(0, -6))).status).toBe(401);
    expect((await call('GET', '/v1/approvals', narrow(alice, 'time-before 2000-01-01T00:00:00Z'))).status).toBe(403);
    // Claiming to be someone else conflicts with the minted declaration.
    expect((await call('GET', '/v1/approvals', narrow(alice, 'declared user bob'))).status).toBe(403);
    const admin = await served.system.mintAdminToken();
    expect((await call('GET', '/v1/approvals', admin.token)).status).toBe(401);

    const carol = await served.system.accounts.add({ name: 'carol', groups: ['ops'], password: 'carol-password' }, { actor: 'test' });
    const carols = (await mintApproverToken(served.system.issuer, { name: carol.name, actor: 'test' })).token;
    expect((await call('GET', '/v1/approvals', carols)).status).toBe(200);
    await served.system.issuer.revoke({ token: carols });
    expect((await call('GET', '/v1/approvals', carols)).status).toBe(401);

    const dave = (await served.system.accounts.add({ name: 'dave', groups: ['ops'], password: 'dave-password' }, { actor: 'test' })).name;
    const daves = (await mintApproverToken(served.system.issuer, { name: dave, actor: 'test' })).token;
    await served.system.accounts.remove(dave, { actor: 'test' });
    const gone = await call('GET', '/v1/approvals', daves);
    expect(gone.status).toBe(403);
    expect(gone.body).toMatchObject({ error: { code: 'ERR_FORBIDDEN' } });
    // Re-adding the name does not bring the earlier account's token back.
    await served.system.accounts.add({ name: dave, groups: ['ops'], password: 'dave-password' }, { actor: 'test' });
    expect((await call('GET', '/v1/approvals', daves)).status).toBe(403);
  });
});

describe('a passkey-only group', () => {
  it("refuses approvals by approver token unless the group allows them; a user passkey-only by their own setting never decides by token", async () => {
    const store = served.system.store;
    await served.addApprover('erin', 'erin-password', ['sec']);
    const erin = (await mintApproverToken(served.system.issuer, { name: 'erin', actor: 'test' })).token;
    await store.passkeys.setGroupRequirement('sec', true);

    const first = await ask('approve group:sec open the vault');
    const refused = await call('POST', `/v1/approvals/${first}/approve`, erin, {});
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'ERR_FORBIDDEN', message: expect.stringContaining('needs a passkey') } });
    expect((await call('GET', `/v1/approvals/${first}`, erin)).body.status).toBe('pending');
    // A denial needs no passkey (as on the pages).
    expect((await call('POST', `/v1/approvals/${first}/deny`, erin, { reason: 'not by a bot' })).body.status).toBe('denied');

    await expect(store.passkeys.setGroupApproverTokens('nonesuch', true)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(await store.passkeys.setGroupApproverTokens('sec', true)).toBe(true);
    const second = await ask('approve group:sec open the vault');
    expect((await call('POST', `/v1/approvals/${second}/approve`, erin, {})).body.status).toBe('approved');

    // Erin herself passkey-only: the group's allowance does not cover her.
    await store.users.update('erin', { requirePasskey: true });
    const third = await ask('approve group:sec open the vault');
    expect((await call('POST', `/v1/approvals/${third}/approve`, erin, {})).status).toBe(403);
    expect(await store.passkeys.setGroupApproverTokens('sec', false)).toBe(true);
  });
});
