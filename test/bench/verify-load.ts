/**
 * The load driver of test/bench/scale-out.ts, run as its own process: drives POST /v1/verify on
 * several instances at once for a fixed time, as a load balancer's clients would.
 *
 *   node verify-load.js '<config JSON>'   (see VerifyLoadConfig); prints {"started":true} when the
 *   load starts, then one JSON line (VerifyLoadResult) when it ends
 *
 * - `connections` keep-alive connections per instance verify `token` back to back; latency,
 *   status and instance of every answer are recorded. A connection refused (the instance has
 *   stopped listening) is retried on the next instance, as a balancer would; a request cut
 *   after it was sent (reset, hang-up: the server never answered) counts as `cut`.
 * - one probe per instance verifies each of `victims` until that instance refuses it, and
 *   records when (wall clock), for the revocations the parent makes mid-run (probes go on for
 *   up to 30 s after the load, until every instance refused every victim: on a slow machine the
 *   last revocations may be made after the load ends).
 * - one writer mints tokens on `writerInstance` back to back and reports the identifiers whose
 *   mint was acknowledged (201): the parent checks every one survived the instance's SIGTERM.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export interface VerifyLoadConfig {
  readonly urls: readonly string[];
  readonly admin: string;
  readonly token: string;
  readonly victims: readonly string[];
  readonly connections: number;
  readonly durationMs: number;
  readonly writerInstance: number;
}

export interface VerifyLoadResult {
  /** Answers per instance (index of `urls`). */
  readonly answered: readonly number[];
  /** Answer latencies (ms) of the steady load, all instances. */
  readonly latencies: readonly number[];
  readonly statuses: Readonly<Record<string, number>>;
  /** Connections refused and retried elsewhere. */
  readonly refused: number;
  /** Requests sent but never answered (connection reset or cut). */
  readonly cut: number;
  /** Per victim, per instance: wall-clock ms of the first refusal (null: never refused). */
  readonly refusedAt: readonly (readonly (number | null)[])[];
  /** Identifiers of acknowledged mints on the writer instance. */
  readonly minted: readonly string[];
  readonly seconds: number;
}

const wallNow = (): number => performance.timeOrigin + performance.now();
const PROBE_GRACE_MS = 30_000;

interface Answer {
  readonly status: number;
  readonly body: string;
}

type Outcome = { readonly answer: Answer } | { readonly failure: 'refused' | 'cut' };

function send(agent: http.Agent, base: URL, path: string, admin: string, payload: unknown): Promise<Outcome> {
  return new Promise((resolve) => {
    const body = JSON.stringify(payload);
    const req = http.request(
      { agent, host: base.hostname, port: base.port, path, method: 'POST', headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.once('end', () => resolve({ answer: { status: res.statusCode ?? 0, body: text } }));
        res.once('error', () => resolve({ failure: 'cut' }));
      },
    );
    req.once('error', (e: NodeJS.ErrnoException) => resolve({ failure: e.code === 'ECONNREFUSED' ? 'refused' : 'cut' }));
    req.end(body);
  });
}

export async function verifyLoad(config: VerifyLoadConfig): Promise<VerifyLoadResult> {
  const bases = config.urls.map((u) => new URL(u));
  for (const b of bases) if (b.hostname !== '127.0.0.1') throw new Error('load is only ever sent to loopback');
  const agents = bases.map(() => new http.Agent({ keepAlive: true, maxSockets: config.connections + 2 }));
  const start = performance.now();
  const end = start + config.durationMs;
  const answered = bases.map(() => 0);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let refused = 0;
  let cut = 0;
  const refusedAt = config.victims.map(() => bases.map((): number | null => null));
  const minted: string[] = [];
  const down = new Set<number>();
  const count = (status: number): void => void (statuses[status] = (statuses[status] ?? 0) + 1);

  /** Send to `instance`, or to the next one up when it refuses the connection. */
  async function balanced(instance: number, path: string, payload: unknown): Promise<{ answer: Answer; instance: number } | undefined> {
    for (let tries = 0; tries < bases.length; tries++) {
      const i = (instance + tries) % bases.length;
      if (down.has(i)) continue;
      const outcome = await send(agents[i] as http.Agent, bases[i] as URL, path, config.admin, payload);
      if ('answer' in outcome) return { answer: outcome.answer, instance: i };
      if (outcome.failure === 'cut') {
        cut++;
        return undefined;
      }
      refused++;
      down.add(i);
    }
    return undefined;
  }

  const steady = async (instance: number): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const got = await balanced(instance, '/v1/verify', { token: config.token, context: { operation: 'read' } });
      if (got === undefined) continue;
      latencies.push(performance.now() - t0);
      answered[got.instance] = (answered[got.instance] ?? 0) + 1;
      count(got.answer.status);
    }
  };

  // Probes outlast the load by up to PROBE_GRACE_MS, for revocations made near its end.
  const probe = async (instance: number): Promise<void> => {
    while (performance.now() < end + PROBE_GRACE_MS && !down.has(instance)) {
      const open = config.victims.flatMap((v, n) => (refusedAt[n]?.[instance] === null ? [{ v, n }] : []));
      if (open.length === 0) return;
      await Promise.all(
        open.map(async ({ v, n }) => {
          const outcome = await send(agents[instance] as http.Agent, bases[instance] as URL, '/v1/verify', config.admin, { token: v, context: { operation: 'read' } });
          if (!('answer' in outcome)) {
            if (outcome.failure === 'refused') {
              refused++;
              down.add(instance);
            } else cut++;
            return;
          }
          count(outcome.answer.status);
          if (outcome.answer.status === 200 && (JSON.parse(outcome.answer.body) as { allowed: boolean }).allowed === false) (refusedAt[n] as (number | null)[])[instance] = wallNow();
        }),
      );
    }
  };

  const writer = async (): Promise<void> => {
    while (performance.now() < end && !down.has(config.writerInstance)) {
      const outcome = await send(agents[config.writerInstance] as http.Agent, bases[config.writerInstance] as URL, '/v1/tokens', config.admin, { caveats: ['ops read'], label: 'scale-out bench' });
      if (!('answer' in outcome)) {
        if (outcome.failure === 'refused') down.add(config.writerInstance);
        else cut++;
        continue;
      }
      count(outcome.answer.status);
      if (outcome.answer.status === 201) minted.push((JSON.parse(outcome.answer.body) as { identifier: string }).identifier);
    }
  };

  await Promise.all([
    ...bases.flatMap((_, i) => Array.from({ length: config.connections }, () => steady(i))),
    ...bases.map((_, i) => probe(i)),
    writer(),
  ]);
  for (const a of agents) a.destroy();
  return { answered, latencies, statuses, refused, cut, refusedAt, minted, seconds: (performance.now() - start) / 1000 };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const running = verifyLoad(JSON.parse(process.argv[2] ?? '{}') as VerifyLoadConfig);
  // The parent times its revocations and SIGTERM from this line.
  process.stdout.write('{"started":true}\n');
  const result = await running;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
