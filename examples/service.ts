/**
 * Example: a small document service protected by Tessera's hono middleware.
 *
 *   npx tsx examples/service.ts          # listens on 127.0.0.1:$PORT (default 8787)
 *
 * It prints a demo token minted with a demo root key. Send it as
 * `Authorization: Macaroon <token>`; every request under /docs/* and /admin/* is checked by
 * `macaroonAuth`, which answers 401 (no or bad token), 400 (malformed header) or 403 (a caveat
 * is not met, with the caveat and the reason in the JSON body) without running the handler.
 * Ctrl-C stops it.
 *
 * It accepts tokens minted with its demo key, with or without discharges from a Tessera
 * discharge service: a holder can make the token need a person's approval, offline, and the
 * service then wants `Macaroon <token>,<discharge>`. Discharges carry `uses 1`, which the
 * Verifier counts in this process by default (a fleet passes a shared counter: README):
 *
 *   npm start                                  # a Tessera server, with its discharge service
 *   T=$(npx tsx src/cli/main.ts attenuate "$DEMO_TOKEN" --third-party http://127.0.0.1:8470 \
 *         --condition "approve group:ops edit the guide")
 *   A=$(npx tsx src/cli/main.ts discharge "$T")   # prints the approval URL; waits for a person
 *   curl -H "Authorization: $A" http://127.0.0.1:8787/docs/guide.md   # 200, then 403 ERR_USAGE_EXCEEDED
 *
 * `createApp()` builds the same app without listening, for tests and for
 * examples/attenuate.ts.
 *
 * In your own project the imports read `from 'tessera'`, `'tessera/verifier'`, `'tessera/hono'`
 * and `'tessera/caveats'`; here they are relative so the example runs from a checkout.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { caveat } from '../caveats/index.js';
import { macaroonAuth } from '../src/hono/node.js'; // on @hono/node-server: the client IP is the TCP peer
import { Macaroon } from '../src/index.js';
import { Verifier } from '../src/verifier/index.js';

/** The demo root key. A real service keeps one random key per token family, in its key store. */
const DEMO_ROOT_KEY = 'tessera demo root key: not a secret, never use it for real tokens';
const DEMO_ID_PREFIX = 'demo-';

/** What each HTTP method asks to do, for `ops` caveats. */
const OPERATION: Readonly<Record<string, string>> = { GET: 'read', HEAD: 'read', PUT: 'write', POST: 'write', DELETE: 'delete' };

/** A token for the demo service: every operation, on everything, for an hour. */
export function mintDemoToken(now: Date = new Date()): string {
  return Macaroon.mint({ rootKey: DEMO_ROOT_KEY, identifier: `${DEMO_ID_PREFIX}${now.getTime()}`, location: 'tessera-demo' })
    .addFirstPartyCaveat(caveat.ops(['read', 'write', 'delete']))
    .addFirstPartyCaveat(caveat.timeBefore(new Date(now.getTime() + 60 * 60_000)))
    .encode();
}

/** The service. `clock` lets a demo or test judge time caveats at another moment. */
export function createApp(options: { readonly clock?: () => Date } = {}): Hono {
  // No usage option: `uses n` (every approval's discharge has `uses 1`) is counted in this process.
  const verifier = new Verifier({
    rootKeyFor: (id) => (Buffer.from(id).toString('utf8').startsWith(DEMO_ID_PREFIX) ? DEMO_ROOT_KEY : undefined),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
  });
  const auth = macaroonAuth({ verifier, realm: 'tessera-demo', context: (c) => ({ operation: OPERATION[c.req.method] ?? 'unknown' }) });
  const docs = new Map<string, string>([
    ['welcome.md', '# Welcome\nThis document is protected by a macaroon.\n'],
    ['guide.md', '# Guide\nAttenuate your token before you share it.\n'],
  ]);

  const app = new Hono();
  app.get('/', (c) => c.text('Tessera demo service: documents under /docs/*, stats under /admin/*\n'));
  app.use('/docs/*', auth);
  app.use('/admin/*', auth);
  app.get('/docs/:name', (c) => {
    const body = docs.get(c.req.param('name'));
    return body === undefined ? c.json({ error: 'no such document' }, 404) : c.text(body);
  });
  app.put('/docs/:name', async (c) => {
    docs.set(c.req.param('name'), await c.req.text());
    return c.json({ saved: c.req.param('name'), token: c.get('tessera').identifierText });
  });
  app.delete('/docs/:name', (c) => c.json({ deleted: docs.delete(c.req.param('name')) }));
  app.get('/admin/stats', (c) => c.json({ documents: docs.size }));
  return app;
}

/** Listen, print a demo token, and stop cleanly on Ctrl-C. */
function main(): void {
  const port = Number(process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const server = serve({ fetch: createApp().fetch, hostname: '127.0.0.1', port }, (info: AddressInfo) => {
    const token = mintDemoToken();
    const url = `http://127.0.0.1:${info.port}`;
    console.log(`Tessera demo service listening on ${url} (documents under /docs/*)`);
    console.log(`Demo token (ops read,write,delete; valid for one hour):\n${token}\n`);
    console.log(`Try:\n  curl -H "Authorization: Macaroon ${token}" ${url}/docs/welcome.md`);
    console.log(`  npx tsx examples/attenuate.ts ${token}`);
    console.log('Discharges from a Tessera discharge service are accepted too (see the comment at the top of examples/service.ts).');
    console.log('Press Ctrl-C to stop.');
  }) as Server; // plain HTTP/1.1: serve() was given no http2 createServer
  const stop = (): void => {
    server.close(() => {
      console.log('stopped');
      process.exit(0);
    });
    server.closeIdleConnections(); // keep-alive clients must not hold the process open
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
