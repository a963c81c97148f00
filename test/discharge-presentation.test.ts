/**
 * Who asks and why (#14): the requester's presentation is verified against the system's own
 * keyring before anything from it is shown as fact; foreign, forged, revoked or mismatched
 * tokens are shown as unverified; private requests show nothing; reasons and claimed caveats
 * are bounded plain text, and a refused request is not stored. Also the approval page's
 * wording for each case (views rendered directly; the browser test drives the real pages).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caveat } from '../caveats/index.js';
import { addDischargeCaveat, gatherDischarges } from '../src/client/index.js';
import { presentationFor, type PendingView } from '../src/discharge/index.js';
import { requestPage, listPage } from '../src/discharge/web/views.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/system.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';

const LOCATION = 'http://tessera.test';
const ALICE = { name: 'alice', groups: ['ops'] };

describe('who asks, verified (createSystem)', () => {
  let database: Database;
  let system: System;

  beforeAll(async () => {
    database = await incidentalBackend.open();
    system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: LOCATION, log: () => undefined });
  });
  afterAll(async () => {
    await system?.close();
  });

  /** A token minted by the system, with a third-party caveat for its discharger. */
  const minted = async (what: string, label = 'deploy bot', subject = 'agent:ci-7'): Promise<Macaroon> => {
    const m = await system.issuer.mint({ caveats: ['ops deploy', 'resource /apps/web/**'], label, subject, actor: 'admin:tsa1.test' });
    return addDischargeCaveat(Macaroon.decode(m.token), { location: LOCATION, publicKey: system.discharge.publicKey, condition: `approve group:ops ${what}` });
  };
  const ticketOf = (m: Macaroon): string => Buffer.from(m.caveats.find((c) => c.thirdParty)?.identifier ?? []).toString('base64url');

  const ask = async (body: Record<string, unknown>): Promise<Response> =>
    system.app.request('/v1/discharge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const viewOf = async (res: Response): Promise<PendingView> => {
    expect(res.status).toBe(202);
    const { approvalUrl } = (await res.json()) as { approvalUrl: string };
    const view = await system.discharge.get(approvalUrl.split('/').pop() as string, ALICE);
    if (view === undefined) throw new Error('request not found');
    return view;
  };

  const count = async (): Promise<number> => {
    const r: unknown = await database.db.execute(sql`select count(*)::int as n from discharge_requests`);
    const rows = (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as { n: number }[];
    return rows[0]?.n ?? -1;
  };

  it('a presentation of a token this Tessera minted is verified: label, subject, identifier, mint, caveats', async () => {
    const token = await minted('deploy web');
    const res = await ask({ id: ticketOf(token), presentation: presentationFor(token, LOCATION).encode(), reason: 'release 1.4 passed CI' });
    const view = await viewOf(res);
    expect(view.shown).toEqual({
      kind: 'verified',
      token: {
        identifier: new TextDecoder().decode(token.identifier),
        label: 'deploy bot',
        subject: 'agent:ci-7',
        mintedAt: expect.any(String),
        mintedBy: 'admin:tsa1.test',
        caveats: ['ops deploy', 'resource /apps/web/**'], // the presentation's aud and time-before left out
        thirdParty: [LOCATION],
      },
    });
    expect(view.requestReason).toBe('release 1.4 passed CI');
    // The presentation itself is nowhere in the database or the audit log.
    const presentation = presentationFor(token, LOCATION).encode();
    const dump = JSON.stringify(await database.db.execute(sql`select row_to_json(t) as r from discharge_requests t`));
    expect(dump).not.toContain(presentation.slice(0, 40));
    const audit = await system.store.audit.list({ action: 'discharge-request', limit: 1 });
    expect(audit[0]?.details).toMatchObject({ shown: 'verified', token: view.shown.kind === 'verified' ? view.shown.token.identifier : '' });

    const page = String(await requestPage({ name: 'alice', csrfToken: 'x'.repeat(43) }, view));
    expect(page).toContain('deploy bot');
    expect(page).toContain('agent:ci-7');
    expect(page).toContain('<span class="badge verified">verified</span>');
    expect(page).toContain('release 1.4 passed CI');
    expect(page).toContain('only operations: deploy');
    const list = String(await listPage({ name: 'alice', csrfToken: 'x'.repeat(43) }, [view]));
    expect(list).toMatch(/deploy bot \(agent:ci-7\) <span class="badge verified">/);
  });

  it('foreign and forged tokens, revoked ones and presentations of another token are shown as unverified, never verified', async () => {
    const token = await minted('deploy api');
    const ticket = ticketOf(token);
    const identifier = new TextDecoder().decode(token.identifier);
    // Foreign: another issuer's token carrying the same caveat id.
    const foreign = Macaroon.mint({ rootKey: 'someone else', identifier: 'foreign-1' }).addThirdPartyCaveat({ caveatKey: new Uint8Array(32).fill(1), identifier: token.caveats[2]!.identifier, location: LOCATION });
    // Forged: this Tessera's identifier, the wrong key.
    const forged = Macaroon.mint({ rootKey: 'guessed', identifier }).addFirstPartyCaveat('ops deploy').addThirdPartyCaveat({ caveatKey: new Uint8Array(32).fill(2), identifier: token.caveats[2]!.identifier, location: LOCATION });
    // Genuine, but not the token whose caveat is asked about.
    const other = await minted('something else', 'other bot');
    const cases: [Macaroon, RegExp][] = [
      [foreign, /not issued by this Tessera/],
      [forged, /signature does not verify/],
      [other, /does not carry the caveat asked about/],
    ];
    for (const [shown, why] of cases) {
      const view = await viewOf(await ask({ id: ticket, presentation: presentationFor(shown, LOCATION).encode(), caveats: ['ops deploy'] }));
      expect(view.shown.kind).toBe('unverified');
      expect(view.shown.kind === 'unverified' && view.shown.why).toMatch(why);
      const page = String(await requestPage({ name: 'alice', csrfToken: 'x'.repeat(43) }, view));
      expect(page).not.toContain('badge verified');
      expect(page).not.toContain('other bot');
      expect(page).toContain('could not be verified');
      expect(page).toContain('unverified, stated by the requester');
    }
    // Narrowed, but for another service (the caveat's location written differently): shown, unverified.
    const elsewhere = await viewOf(await ask({ id: ticket, presentation: presentationFor(token, 'http://elsewhere.test').encode() }));
    expect(elsewhere.shown).toEqual({ kind: 'unverified', why: 'it is addressed to http://elsewhere.test, not to this service' });
    await system.issuer.revoke({ identifier, reason: 'test' });
    const revoked = await viewOf(await ask({ id: ticket, presentation: presentationFor(token, LOCATION).encode() }));
    expect(revoked.shown).toEqual({ kind: 'unverified', why: 'it has been revoked' });
  });

  it('no presentation and private requests say so; a private request may show neither token nor caveats', async () => {
    const token = await minted('scale the workers');
    const none = await viewOf(await ask({ id: ticketOf(token), caveats: ['ops deploy'] }));
    expect(none.shown).toEqual({ kind: 'none' });
    expect(String(await requestPage({ name: 'alice', csrfToken: 'x'.repeat(43) }, none))).toContain('showed no token');

    const secret = await viewOf(await ask({ id: ticketOf(token), private: true, reason: 'incident 42' }));
    expect(secret.shown).toEqual({ kind: 'private' });
    expect(secret.otherCaveats).toEqual([]);
    const page = String(await requestPage({ name: 'alice', csrfToken: 'x'.repeat(43) }, secret));
    expect(page).toContain('chose not to show its token or its limits');
    expect(page).toContain('incident 42');

    const before = await count();
    for (const body of [
      { id: ticketOf(token), private: true, presentation: presentationFor(token, LOCATION).encode() },
      { id: ticketOf(token), private: true, caveats: ['ops deploy'] },
    ]) {
      const res = await ask(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'ERR_INVALID_ARGUMENT', details: { field: 'private' } } });
    }
    expect(await count()).toBe(before);
  });

  it('the client sends a presentation, the caveats and the reason, and hears the denial reason; private sends neither', async () => {
    const token = await minted('ship the client');
    const fetch = async (url: string, init?: RequestInit): Promise<Response> => system.app.request(url, init);
    let announced: (url: string) => void = () => undefined;
    const approvalUrl = new Promise<string>((resolve) => (announced = resolve));
    const gathering = gatherDischarges(token, { fetch, reason: 'nightly release', waitSeconds: 1, timeoutMs: 20_000, onApprovalUrl: (u) => announced(u) });
    const id = (await approvalUrl).split('/').pop() as string;
    const view = await system.discharge.get(id, ALICE);
    expect(view?.shown.kind).toBe('verified');
    expect(view?.requestReason).toBe('nightly release');
    expect(view?.otherCaveats).toEqual(['ops deploy', 'resource /apps/web/**']);
    await system.discharge.decide(id, ALICE, { approve: false, reason: 'freeze' });
    await expect(gathering).rejects.toMatchObject({ code: 'ERR_DENIED', details: { status: 'denied', reason: 'freeze', decidedBy: 'alice' } });

    const privateUrls: string[] = [];
    const quiet = gatherDischarges(token, { fetch, private: true, waitSeconds: 0, timeoutMs: 300, onApprovalUrl: (u) => void privateUrls.push(u) });
    await expect(quiet).rejects.toMatchObject({ code: 'ERR_PENDING' });
    const privateView = await system.discharge.get(privateUrls[0]!.split('/').pop() as string, ALICE);
    expect(privateView).toMatchObject({ shown: { kind: 'private' }, otherCaveats: [] });
    // A bad reason is refused before anything is sent.
    await expect(gatherDischarges(token, { fetch, reason: 'a\u202Eb' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', details: { field: 'reason' } });
  });

  it('bad input is refused naming the field, and nothing is stored', async () => {
    const token = await minted('bad input');
    const id = ticketOf(token);
    const now = new Date();
    const before = await count();
    const refused: [Record<string, unknown>, string, string][] = [
      [{ reason: 'x'.repeat(501) }, 'ERR_LIMIT', 'reason'],
      [{ reason: 'line\nbreak' }, 'ERR_INVALID_ARGUMENT', 'reason'],
      [{ reason: 'trust me \u202Egnp.exe' }, 'ERR_INVALID_ARGUMENT', 'reason'],
      [{ reason: 'zero\u200Bwidth' }, 'ERR_INVALID_ARGUMENT', 'reason'],
      [{ caveats: ['ops deploy', 'x'.repeat(257)] }, 'ERR_LIMIT', 'caveats[1]'],
      [{ caveats: ['ops\u0007deploy'] }, 'ERR_INVALID_ARGUMENT', 'caveats[0]'],
      [{ caveats: ['resource /a\u2066/b'] }, 'ERR_INVALID_ARGUMENT', 'caveats[0]'],
      [{ presentation: 'not a token!' }, 'ERR_MALFORMED', 'presentation'],
      [{ presentation: 'A'.repeat(40_000) }, 'ERR_LIMIT', 'presentation'],
      // A presentation that is not narrowed to this service and a few minutes would leak the token.
      [{ presentation: token.encode() }, 'ERR_INVALID_ARGUMENT', 'presentation'],
      [{ presentation: token.addFirstPartyCaveat(caveat.timeBefore(new Date(now.getTime() + 60_000))).encode() }, 'ERR_INVALID_ARGUMENT', 'presentation'],
      [{ presentation: token.addFirstPartyCaveat(caveat.aud(LOCATION)).addFirstPartyCaveat(caveat.timeBefore(new Date(now.getTime() + 3_600_000))).encode() }, 'ERR_INVALID_ARGUMENT', 'presentation'],
      [{ presentation: token.addFirstPartyCaveat(caveat.aud(LOCATION)).addFirstPartyCaveat(caveat.timeBefore(new Date(now.getTime() - 1000))).encode() }, 'ERR_INVALID_ARGUMENT', 'presentation'],
    ];
    for (const [extra, code, field] of refused) {
      const res = await ask({ id, ...extra });
      expect(res.status, JSON.stringify(extra).slice(0, 80)).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string; details: { field: string } } };
      expect(body.error.code, field).toBe(code);
      expect(body.error.details.field).toBe(field);
      expect(body.error.message).toContain(field.replace(/\[\d+\]$/, ''));
    }
    expect(await count()).toBe(before);
  });
});
