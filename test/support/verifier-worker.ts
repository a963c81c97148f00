/**
 * A verifier process for multi-process tests and benchmarks: opens the PostgreSQL database in
 * DATABASE_URL with TESSERA_MASTER_KEY, builds the system (keyring, revoked set listening for
 * NOTIFY, usage counter), and obeys its parent over IPC:
 *   { type: 'watch', id, token }   verify until refused; answers 'watching' then 'refused' (with the wall time)
 *   { type: 'prepare', id, token } warm the key cache for a race; answers 'prepared'
 *   { type: 'go', id, concurrency } run `concurrency` verifications at once; answers 'raced' with counts
 *   { type: 'exit' }               close and exit
 * Started by multiprocess.ts, compiled by the test run's build (test/support/child-build.ts, through script.ts `scriptArgs`).
 */
import { isTesseraError } from '../../src/errors.js';
import { Macaroon } from '../../src/index.js';
import { createSystem } from '../../src/server/system.js';
import { openDatabase, parseMasterKey } from '../../src/storage/index.js';

type Message =
  | { type: 'watch'; id: number; token: string }
  | { type: 'prepare'; id: number; token: string }
  | { type: 'go'; id: number; concurrency: number }
  | { type: 'exit' };

const send = (m: Record<string, unknown>): void => {
  process.send?.(m);
};
const wallNow = (): number => performance.timeOrigin + performance.now();
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

const database = await openDatabase({ url: process.env.DATABASE_URL, maxConnections: 20 });
const system = await createSystem({
  database,
  masterKey: parseMasterKey(process.env.TESSERA_MASTER_KEY ?? ''),
  publicUrl: 'http://verifier.test',
  log: () => undefined,
});
let raceToken: string | undefined;

async function watch(id: number, token: string): Promise<void> {
  try {
    await system.verifier.verify(token);
  } catch (e) {
    send({ type: 'error', id, code: isTesseraError(e) ? e.code : 'unexpected' });
    return;
  }
  send({ type: 'watching', id });
  for (;;) {
    await tick(); // let the NOTIFY in: the loop must not starve the event loop
    try {
      await system.verifier.verify(token);
    } catch (e) {
      send({ type: 'refused', id, at: wallNow(), code: isTesseraError(e) ? e.code : 'unexpected' });
      return;
    }
  }
}

async function race(id: number, concurrency: number): Promise<void> {
  const token = raceToken as string;
  const outcomes = await Promise.all(
    Array.from({ length: concurrency }, () =>
      system.verifier.verify(token).then(
        () => 'ok',
        (e: unknown) => (isTesseraError(e) ? e.code : 'unexpected'),
      ),
    ),
  );
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  send({ type: 'raced', id, counts });
}

process.on('message', (m: Message) => {
  switch (m.type) {
    case 'watch':
      void watch(m.id, m.token);
      break;
    case 'prepare':
      raceToken = m.token;
      // Warm the root key (not the token: verifying would count a use).
      void Promise.resolve()
        .then(() => system.keyring.rootKeyFor(Macaroon.decode(m.token).identifier))
        .then(
          () => send({ type: 'prepared', id: m.id }),
          () => send({ type: 'prepared', id: m.id }),
        );
      break;
    case 'go':
      void race(m.id, m.concurrency);
      break;
    case 'exit':
      void system
        .close()
        .then(() => database.close())
        .finally(() => process.exit(0));
      break;
  }
});

send({ type: 'ready', pid: process.pid });
