/**
 * Approval-to-discharge latency, service side: from the moment the approval is recorded
 * (`service.decide(...)`, what the Approve button's handler calls) to the client holding the
 * bound discharge, with the client long-polling over real HTTP (`gatherDischarges` with the
 * global fetch, @hono/node-server on 127.0.0.1). Target: p95 under one second.
 * (test/bench/approval-browser.ts measures the same from a real click in Chromium.)
 *
 *   npx tsx test/bench/approval.ts [runs]      (default 20 runs after one warm-up)
 *
 * On in-memory PGlite, or on a fresh PostgreSQL database (dropped afterwards) when DATABASE_URL
 * is set.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { addDischargeCaveat, gatherDischarges } from '../../src/client/index.js';
import { createDischargeService, dischargeRoutes } from '../../src/discharge/index.js';
import { Macaroon } from '../../src/macaroon/macaroon.js';
import { MasterKey, createStore } from '../../src/storage/index.js';
import { freshDatabase } from './fresh-database.js';
import { summarize } from '../support/latency.js';

const TARGET_MS = 1000;
const APPROVER = { name: 'alice', groups: ['ops'] };

/** Run the benchmark; resolves to whether p95 met the target. */
export async function approvalBench(runs = 20): Promise<boolean> {
  const fresh = await freshDatabase();
  let app: Hono | undefined;
  const { server, port } = await new Promise<{ server: ServerType; port: number }>((resolve) => {
    const s = serve(
      { fetch: (req, env) => (app === undefined ? new Response('starting', { status: 503 }) : app.fetch(req, env)), hostname: '127.0.0.1', port: 0 },
      (info: AddressInfo) => resolve({ server: s, port: info.port }),
    );
  });
  const location = `http://127.0.0.1:${port}`;
  const service = await createDischargeService({ store: createStore(fresh.database, MasterKey.generate()), location });
  app = new Hono().route('/', dischargeRoutes(service));
  try {
    const samples: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const token = addDischargeCaveat(Macaroon.mint({ rootKey: randomBytes(32), identifier: `bench-${i}` }), {
        location,
        publicKey: service.publicKey,
        condition: `approve group:ops benchmark run ${i}`,
      });
      let approvalUrl: string | undefined;
      const gathering = gatherDischarges(token, { waitSeconds: 10, onApprovalUrl: (url) => (approvalUrl = url) });
      // Let the client's first long-poll reach the server and start waiting.
      while (approvalUrl === undefined) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100));
      const started = performance.now();
      await service.decide(approvalUrl.split('/').pop() as string, APPROVER, { approve: true });
      const bundle = await gathering;
      const elapsed = performance.now() - started;
      if (bundle.discharges.length !== 1) throw new Error('no discharge');
      if (i > 0) samples.push(elapsed); // run 0 warms up
    }
    const { ok, text } = summarize(samples, TARGET_MS);
    console.log(`approval (${fresh.database.kind}): decide() → client holds the bound discharge (HTTP long-poll), ${samples.length} runs: ${text}`);
    return ok;
  } finally {
    service.close();
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    await fresh.drop();
  }
}

/** For `npm run bench` (test/bench/index.ts): fails when p95 misses the target. */
export async function run(): Promise<void> {
  if (!(await approvalBench())) throw new Error(`approval: p95 is not under ${TARGET_MS} ms`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? 20);
  approvalBench(Number.isSafeInteger(runs) && runs > 0 ? runs : 20).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error('approval failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
