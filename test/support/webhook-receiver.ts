/**
 * A real webhook receiver on 127.0.0.1 (node:http) that verifies every delivery with the
 * `standardwebhooks` package, as a team's receiver would: what the webhook tests and the latency
 * benchmark share. It can be stopped and started again on the same port, keeping what it got.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  readonly id: string;
  readonly type: string;
  readonly body: Record<string, unknown>;
  /** performance.now() when it arrived. */
  readonly at: number;
}

export interface Receiver {
  readonly url: string;
  readonly port: number;
  /** Every verified delivery, in arrival order, across restarts (duplicates included). */
  readonly received: Received[];
  /** Deliveries whose signature did not verify. */
  readonly rejected: number;
  /** The signing secret to verify with (`whsec_…`); deliveries before it is set are refused. */
  secret: string | undefined;
  /** Resolves once `predicate(received)` holds (checked on each delivery), or fails after `ms`. */
  until(predicate: (received: readonly Received[]) => boolean, ms?: number): Promise<void>;
  /** Stop listening (connections dropped). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
}

export type Answer = (req: IncomingMessage, res: ServerResponse, verified: Received) => void;

export async function startReceiver(options: { readonly answer?: Answer } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  let rejected = 0;
  let server: Server | undefined;
  let port = 0;
  const receiver: Receiver = {
    url: '',
    port: 0,
    received,
    get rejected() {
      return rejected;
    },
    secret: undefined,
    until(predicate, ms = 10_000) {
      if (predicate(received)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met within ${ms} ms (${received.length} received, ${rejected} rejected)`));
        }, ms);
        const check = (): void => {
          if (!predicate(received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s === undefined) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async start() {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown>;
          try {
            if (receiver.secret === undefined) throw new Error('no secret yet');
            body = new Webhook(receiver.secret).verify(raw, {
              'webhook-id': String(req.headers['webhook-id']),
              'webhook-timestamp': String(req.headers['webhook-timestamp']),
              'webhook-signature': String(req.headers['webhook-signature']),
            }) as Record<string, unknown>;
          } catch {
            rejected++;
            res.writeHead(401).end();
            return;
          }
          const got: Received = { id: String(req.headers['webhook-id']), type: typeof body.type === 'string' ? body.type : 'slack', body, at: performance.now() };
          received.push(got);
          if (options.answer !== undefined) options.answer(req, res, got);
          else res.writeHead(204).end();
          for (const w of [...waiters]) w();
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
      port = (s.address() as AddressInfo).port;
      Object.assign(receiver, { port, url: `http://127.0.0.1:${port}/hooks/tessera` });
    },
  };
  await receiver.start();
  return receiver;
}
