/**
 * Example: attenuate a token offline, then see which requests it still passes.
 *
 *   npx tsx examples/attenuate.ts [token]
 *
 * Takes the token examples/service.ts printed (or mints an equivalent demo token) and, without
 * asking the service anything, adds three caveats: `time-before` five minutes from now,
 * `ops read` and `resource /docs/**`. Anyone holding a macaroon can narrow it like this before
 * handing it on; nobody can widen it, because each caveat is chained into the signature.
 *
 * Requests go to the demo service in this process (`createApp().request(...)`, no port): the
 * same middleware and answers as over HTTP, plus a second copy of the service whose clock runs
 * six minutes ahead to show the time limit. The table shows status and, for refusals, the
 * caveat and reason from the JSON error body.
 */
import { caveat } from '../caveats/index.js';
import { Macaroon, isTesseraError, type MacaroonJSON } from '../src/index.js';
import { createApp, mintDemoToken } from './service.js';

const given = process.argv[2];
let original: Macaroon;
try {
  original = Macaroon.decode(given ?? mintDemoToken());
} catch (e) {
  console.error(`That is not a macaroon (${isTesseraError(e) ? e.code : 'error'}). Pass the token examples/service.ts printed.`);
  process.exit(1);
}

// 1. Attenuate offline: each call returns a new, narrower token.
const expires = new Date(Date.now() + 5 * 60_000);
const narrowed = original
  .addFirstPartyCaveat(caveat.timeBefore(expires))
  .addFirstPartyCaveat(caveat.ops(['read']))
  .addFirstPartyCaveat(caveat.resource('/docs/**'));

// 2. A holder who tries to widen it back (rewriting `ops read`) breaks the signature chain.
const json = narrowed.toJSONObject();
const widened = Macaroon.decode({
  ...json,
  c: json.c?.map((c) => (c.i === 'ops read' ? { ...c, i: 'ops read,write' } : c)),
} as MacaroonJSON);

console.log(`Token from ${given === undefined ? 'a fresh demo mint' : 'the command line'}: ${original.caveats.length} caveats`);
for (const c of original.caveats) console.log(`  ${c.text ?? '(binary)'}`);
console.log(`Attenuated offline, ${narrowed.caveats.length - original.caveats.length} caveats added:`);
for (const c of narrowed.caveats.slice(original.caveats.length)) console.log(`  ${c.text ?? '(binary)'}`);
console.log();

// 3. Ask the service.
const now = createApp();
const sixMinutesLater = createApp({ clock: () => new Date(Date.now() + 6 * 60_000) });
const tokens = { original, attenuated: narrowed, widened } as const;

interface Row {
  readonly method: string;
  readonly path: string;
  readonly token: keyof typeof tokens | 'none';
  readonly later?: boolean;
}
const rows: readonly Row[] = [
  { method: 'GET', path: '/docs/guide.md', token: 'original' },
  { method: 'PUT', path: '/docs/notes.md', token: 'original' },
  { method: 'GET', path: '/admin/stats', token: 'original' },
  { method: 'GET', path: '/docs/guide.md', token: 'attenuated' },
  { method: 'PUT', path: '/docs/notes.md', token: 'attenuated' },
  { method: 'GET', path: '/admin/stats', token: 'attenuated' },
  { method: 'GET', path: '/docs/guide.md', token: 'attenuated', later: true },
  { method: 'GET', path: '/docs/guide.md', token: 'original', later: true },
  { method: 'GET', path: '/docs/guide.md', token: 'widened' },
  { method: 'GET', path: '/docs/guide.md', token: 'none' },
];

interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string; readonly details?: { readonly caveat?: string; readonly reason?: string } };
}

const table: string[][] = [['request', 'token', 'clock', 'status', 'result']];
for (const row of rows) {
  const headers: Record<string, string> = row.token === 'none' ? {} : { Authorization: `Macaroon ${tokens[row.token].encode()}` };
  const init = row.method === 'PUT' ? { method: 'PUT', headers, body: 'draft' } : { method: row.method, headers };
  const res = await (row.later === true ? sixMinutesLater : now).request(row.path, init);
  let result = 'allowed';
  if (!res.ok) {
    const { error } = (await res.json()) as ErrorBody;
    result = error?.details?.caveat !== undefined ? `refused by "${error.details.caveat}": ${error.details.reason}` : `${error?.code}: ${error?.message}`;
  }
  table.push([`${row.method} ${row.path}`, row.token, row.later === true ? '+6 min' : 'now', String(res.status), result]);
}

const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
for (const [i, r] of table.entries()) {
  console.log(r.map((cell, j) => (j === r.length - 1 ? cell : cell.padEnd(widths[j]!))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
