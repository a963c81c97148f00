/**
 * Example: an agent hands a sub-agent a token that only works once a person approves.
 *
 *   npx tsx examples/agent-approval.ts
 *
 * Self-contained: the whole Tessera system (issuer, discharge service, approval pages) runs in
 * this process on an in-memory PGlite (or your PostgreSQL when DATABASE_URL is set), next to a
 * small "deploy API" protected by `macaroonAuth`. Requests go through `app.request` (no port), with the same answers as HTTP.
 *
 *  1. The agent holds a token from the issuer. Offline, it attenuates it to `tool deploy`,
 *     `resource /apps/web/**`, `time-before +30m`, and adds a third-party caveat
 *     `approve group:ops deploy web to production`, sealed to the discharge service's public
 *     key (fetched once from /.well-known/tessera/discharger).
 *  2. The sub-agent calls the deploy API with it: refused, 401 ERR_DISCHARGE_MISSING.
 *  3. The sub-agent asks for the discharge (`gatherDischarges`): the service answers with an
 *     approval URL and the sub-agent long-polls. A person in group `ops` would open the URL,
 *     sign in and click Approve; here the example approves through the same service API the
 *     page calls, after printing what the page shows.
 *  4. With the bound discharge the call succeeds, once: the discharge carries `uses 1`, so the
 *     same header is refused the second time (403 ERR_USAGE_EXCEEDED).
 */
import { Hono } from 'hono';
import { caveat } from '../caveats/index.js';
import { addDischargeCaveat, fetchDischargerInfo, gatherDischarges, type FetchLike } from '../src/client/index.js';
import { macaroonAuth } from '../src/hono/index.js';
import { onError } from '../src/http/errors.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem } from '../src/server/system.js';
import { MasterKey, openDatabase } from '../src/storage/index.js';

const PUBLIC_URL = 'http://tessera.local';
const APPROVER = { name: 'olivia', groups: ['ops'] };

const database = await openDatabase({ url: process.env.DATABASE_URL, memory: true });
const system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: PUBLIC_URL, log: () => undefined });
const tessera: FetchLike = async (url, init) => system.app.request(url, init);

// The deploy API: every request needs a macaroon that allows tool `deploy` on its path.
const api = new Hono();
api.onError(onError);
api.use('/apps/*', macaroonAuth({ verifier: system.verifier, context: () => ({ tool: 'deploy' }) }));
api.post('/apps/web/releases', (c) => c.json({ deployed: 'web', by: c.get('tessera').declared.get('approved-by') ?? null }));

async function callDeploy(authorization: string): Promise<string> {
  const res = await api.request('/apps/web/releases', { method: 'POST', headers: { authorization } });
  const body = (await res.json()) as { error?: { code: string; message: string } };
  return `${res.status} ${body.error !== undefined ? `${body.error.code}: ${body.error.message}` : JSON.stringify(body)}`;
}

try {
  // 1. The agent's token, then its offline attenuation for the sub-agent.
  const { token: agentToken } = await system.issuer.mint({ label: 'agent', caveats: ['tool deploy,read'] });
  const discharger = await fetchDischargerInfo(PUBLIC_URL, { fetch: tessera });
  const forSubAgent = addDischargeCaveat(
    Macaroon.decode(agentToken)
      .addFirstPartyCaveat(caveat.tool(['deploy']))
      .addFirstPartyCaveat(caveat.resource('/apps/web/**'))
      .addFirstPartyCaveat(caveat.timeBefore(new Date(Date.now() + 30 * 60_000))),
    { location: discharger.location, publicKey: discharger.publicKey, condition: 'approve group:ops deploy web to production' },
  );
  console.log('1. The agent attenuated its token offline for the sub-agent:');
  for (const c of forSubAgent.caveats) console.log(`     ${c.thirdParty ? `(third party at ${c.location}) approve group:ops …` : c.text}`);

  // 2. Without a discharge the call is refused.
  console.log(`2. Sub-agent calls the deploy API with the token alone:\n     ${await callDeploy(`Macaroon ${forSubAgent.encode()}`)}`);

  // 3. The sub-agent gathers the discharge; a person approves meanwhile.
  console.log('3. Sub-agent asks the discharge service and waits for a person…');
  const bundle = await gatherDischarges(forSubAgent, {
    fetch: tessera,
    waitSeconds: 10,
    reason: 'release 1.4 passed CI',
    onApprovalUrl: (url) => {
      console.log(`     approval needed: ${url}`);
      void approveAsAPerson(url.split('/').pop() as string);
    },
  });
  console.log(`     got ${bundle.discharges.length} discharge, bound to the token`);

  // 4. With the discharge: once.
  console.log(`4. Sub-agent calls again with "Authorization: Macaroon <token>,<discharge>":\n     ${await callDeploy(bundle.authorization)}`);
  console.log(`   And a second time with the same header:\n     ${await callDeploy(bundle.authorization)}`);
} finally {
  await system.close();
  await database.close();
}

/** What a person in group ops does on the approval page, through the API the page uses. */
async function approveAsAPerson(id: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 300)); // a person takes a moment
  const view = await system.discharge.get(id, APPROVER);
  if (view === undefined) throw new Error('the approver cannot see the request');
  console.log(`     [approval page, signed in as ${APPROVER.name}] "${view.what}" for ${view.who}`);
  // The token itself, proven by the presentation gatherDischarges sent, then what the agent says.
  if (view.shown.kind === 'verified') {
    const t = view.shown.token;
    console.log(`       who asks (verified): token "${t.label ?? t.identifier}", limited to: ${t.caveats.join('; ')}`);
  }
  console.log(`       why (the requester's words): ${view.requestReason ?? 'no reason given'}`);
  const decided = await system.discharge.decide(id, APPROVER, { approve: true, validitySeconds: 300 });
  console.log(`       clicked Approve: ${decided.status} by ${decided.decidedBy}`);
}
