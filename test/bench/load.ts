/**
 * A small HTTP load generator, run as its own process by test/bench/route.ts so that producing
 * load never competes with the server inside one event loop.
 *
 *   node --import tsx test/bench/load.ts '{"url":"http://127.0.0.1:PORT/path","connections":32,
 *     "warmupMs":500,"durationMs":2500,"headers":{"authorization":"Macaroon ..."}}'
 *
 * `connections` keep-alive connections (one http.Agent) each send requests (GET unless `method`) back to back for
 * warm-up + duration; only responses completed after the warm-up count. Prints one JSON line:
 * { requests, seconds, statuses: { "200": n, ... }, errors }.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export interface LoadConfig {
  readonly url: string;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Default GET; with `body`, each request sends it (e.g. a JSON-RPC POST). */
  readonly method?: string;
  readonly body?: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly errors: number;
}

export async function generateLoad(config: LoadConfig): Promise<LoadResult> {
  const url = new URL(config.url);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error('load is only ever sent to loopback');
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections });
  const start = performance.now();
  const measureFrom = start + config.warmupMs;
  const end = measureFrom + config.durationMs;
  const statuses: Record<string, number> = {};
  let requests = 0;
  let errors = 0;

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: config.method ?? 'GET', headers: config.headers }, (res) => {
        res.resume();
        res.once('end', () => {
          const now = performance.now();
          if (now >= measureFrom && now < end) {
            requests++;
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
          }
          resolve();
        });
      });
      req.once('error', () => {
        errors++;
        resolve();
      });
      req.end(config.body);
    });

  const connection = async (): Promise<void> => {
    while (performance.now() < end) await one();
  };
  await Promise.all(Array.from({ length: config.connections }, connection));
  agent.destroy();
  return { requests, seconds: config.durationMs / 1000, statuses, errors };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await generateLoad(JSON.parse(process.argv[2] ?? '{}') as LoadConfig);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
