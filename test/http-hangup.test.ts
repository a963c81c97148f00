/**
 * A client that hangs up mid-body (the repro: POST /v1/discharge, Content-Length 100,
 * 8 bytes, close) is one `info` log line, not an unexpected internal error with a stack: the
 * route needs no credential, so anyone could otherwise flood the log and trip 5xx alarms.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';
import { serveApprovalSystem, type ServedSystem } from './support/web-system.js';

let database: Database;
let served: ServedSystem;
const lines: string[] = [];
let heard: () => void = () => undefined;

beforeAll(async () => {
  database = await incidentalBackend.open();
  // The system's one logger: every line it writes, whatever its level.
  served = await serveApprovalSystem(database, {
    log: (line) => {
      lines.push(line);
      heard();
    },
  });
});
afterAll(async () => {
  await served.close();
});

describe('client hang-up mid-body', () => {
  it('POST /v1/discharge with Content-Length 100, 8 bytes, then close: one info line, no stack', async () => {
    const logged = new Promise<void>((resolve) => (heard = resolve));
    const { port } = new URL(served.baseUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const head = 'POST /v1/discharge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    await new Promise<void>((resolve) => socket.write(`${head}{"id":"a`, () => resolve()));
    socket.destroy(); // 8 of the 100 bytes sent
    await logged;
    // The server is healthy and has logged nothing more by the time it answers the next request.
    expect((await fetch(`${served.baseUrl}/healthz`)).status).toBe(200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tessera: info: POST \/v1\/discharge: the client closed the connection before the request was complete$/);
    expect(lines.join('\n')).not.toMatch(/unexpected|\n\s+at /);
  });
});
