/**
 * Webhook delivery latency: from asking for an approval (`discharge.request(...)`, what
 * POST /v1/discharge calls) to a real receiver on 127.0.0.1 holding the verified event
 * (node:http, signatures checked with `standardwebhooks`), with the worker's default settings.
 * Target: p95 under 500 ms (#11).
 *
 *   npx tsx test/bench/webhook-latency.ts [runs]      (default 30 runs after one warm-up)
 *
 * On in-memory PGlite, or on a fresh PostgreSQL database (dropped afterwards) when DATABASE_URL
 * is set.
 */
import { pathToFileURL } from 'node:url';
import { addDischargeCaveat } from '../../src/client/index.js';
import { Macaroon } from '../../src/macaroon/macaroon.js';
import { createSystem } from '../../src/server/index.js';
import { MasterKey } from '../../src/storage/index.js';
import { addWebhook } from '../../src/webhooks/index.js';
import { summarize } from '../support/latency.js';
import { startReceiver } from '../support/webhook-receiver.js';
import { freshDatabase } from './fresh-database.js';

const TARGET_MS = 500;
const LOCATION = 'http://tessera.bench';

/** Run the benchmark; resolves to whether p95 met the target. */
export async function webhookLatencyBench(runs = 30): Promise<boolean> {
  const fresh = await freshDatabase();
  const receiver = await startReceiver();
  const system = await createSystem({ database: fresh.database, masterKey: MasterKey.generate(), publicUrl: LOCATION, log: () => undefined });
  try {
    receiver.secret = (await addWebhook(system.store, { url: receiver.url, addressee: { group: 'ops' } }, 'bench')).secret;
    const minted = await system.issuer.mint({ caveats: ['ops deploy'], label: 'bench' });
    const samples: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const token = addDischargeCaveat(Macaroon.decode(minted.token), { location: LOCATION, publicKey: system.discharge.publicKey, condition: `approve group:ops benchmark run ${i}` });
      const third = token.caveats.find((c) => c.location !== undefined);
      if (third === undefined) throw new Error('no third-party caveat');
      const started = performance.now();
      const asked = await system.discharge.request(third.identifier);
      if (asked.status !== 'pending') throw new Error('expected a pending request');
      const isIt = (r: { readonly body: Record<string, unknown> }): boolean => (r.body.data as { id?: unknown } | undefined)?.id === asked.id;
      await receiver.until((got) => got.some(isIt));
      const arrived = receiver.received.find(isIt);
      if (i > 0 && arrived !== undefined) samples.push(arrived.at - started); // run 0 warms up
    }
    const { ok, text } = summarize(samples, TARGET_MS);
    console.log(`webhook latency (${fresh.database.kind}): request created → receiver holds the verified event, ${samples.length} runs: ${text}`);
    return ok;
  } finally {
    await system.close();
    await receiver.stop();
    await fresh.drop();
  }
}

/** For `npm run bench` (test/bench/index.ts): fails when p95 misses the target. */
export async function run(): Promise<void> {
  if (!(await webhookLatencyBench())) throw new Error(`webhook latency: p95 is not under ${TARGET_MS} ms`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? 30);
  webhookLatencyBench(Number.isSafeInteger(runs) && runs > 0 ? runs : 30).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error('webhook latency failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
