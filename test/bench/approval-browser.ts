/**
 * Approval-to-discharge latency in a real browser: from the click on "Approve" in Debian's
 * Chromium to the long-polling client holding the decoded discharge. Target: under one second.
 *
 *   npx tsx test/bench/approval-browser.ts [runs]      (default 10 runs after one warm-up)
 *
 * The system (`createSystem`) is served on 127.0.0.1 over in-memory PGlite (or a fresh
 * PostgreSQL database, dropped afterwards, when DATABASE_URL is set). Without Chromium it says
 * so and exits 0.
 */
import { pathToFileURL } from 'node:url';
import { Macaroon } from '../../src/macaroon/macaroon.js';
import {
  CHROMIUM_PATH,
  launchChromium,
  requestDischarge,
  serveApprovalSystem,
  signIn,
  waitForDischarge,
} from '../support/web-system.js';
import { freshDatabase } from './fresh-database.js';
import { summarize } from '../support/latency.js';

const TARGET_MS = 1000;

/** Run the benchmark; resolves to whether p95 met the target (true when it could not run). */
export async function approvalBrowserBench(runs = 10): Promise<boolean> {
  const browser = await launchChromium();
  if (browser === undefined) {
    console.log(`approval-browser: not run: Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`);
    return true;
  }
  const fresh = await freshDatabase();
  const database = fresh.database;
  const system = await serveApprovalSystem(database);
  try {
    await system.addApprover('alice', 'correct horse battery', ['ops']);
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${system.baseUrl}/approve/login`);
    await signIn(page, 'alice', 'correct horse battery');

    const samples: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const token = await system.mint(`approve group:ops benchmark run ${i}`);
      const asked = await requestDischarge(system, token);
      if (asked.status !== 202) throw new Error(`discharge request answered ${asked.status}`);
      const waiting = waitForDischarge(asked.body.pollUrl);
      await page.goto(asked.body.approvalUrl);
      const started = performance.now();
      await page.getByRole('button', { name: 'Approve' }).click();
      const result = await waiting;
      if (result.status !== 200) throw new Error(`poll answered ${result.status}`);
      Macaroon.decode(String(result.body.discharge));
      const elapsed = performance.now() - started;
      await page.waitForURL(asked.body.approvalUrl); // let the page settle before the next run
      if (i > 0) samples.push(elapsed); // run 0 warms up
    }
    const { ok, text } = summarize(samples, TARGET_MS, 0);
    console.log(`approval-browser (${database.kind}): approve click → client holds discharge, ${samples.length} runs: ${text}`);
    return ok;
  } finally {
    await system.close();
    await browser.close();
    await fresh.drop();
  }
}


/** For `npm run bench` (test/bench/index.ts): fails when p95 misses the target. */
export async function run(): Promise<void> {
  if (!(await approvalBrowserBench())) throw new Error(`approval-browser: p95 is not under ${TARGET_MS} ms`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? 10);
  approvalBrowserBench(Number.isSafeInteger(runs) && runs > 0 ? runs : 10).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error('approval-browser failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
