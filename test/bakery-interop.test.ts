/**
 * End to end with the real peers: a Go program and a Python program, each a first-party service
 * plus client written with nothing but its bakery's stock HTTP client (a web-browser interactor
 * that prints the URL), add a v3 third-party caveat addressed to the whole Tessera system served
 * on 127.0.0.1, get a person's approval (through the service's decide path, as the approval page
 * does), and verify the discharged macaroon on their side. A denial reaches them as permission
 * denied, with the person's reason (the Go client reports it; Python's stock client reports only
 * the failed wait).
 *
 * Needs Debian's golang-go, golang-gopkg-macaroon.v2-dev,
 * golang-github-go-macaroon-bakery-macaroon-bakery-dev, python3-pymacaroons and
 * python3-macaroonbakery (`.ci/run` installs them); without them nothing runs, and it says so.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentalBackend } from './support/databases.js';
import { serveApprovalSystem, type ServedSystem } from './support/web-system.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const PEERS_SH = here('./interop/peers.sh');
const missing = spawnSync('bash', ['-c', `source '${PEERS_SH}'; peers_missing`], { encoding: 'utf8' }).stdout.trim();
if (missing !== '') console.warn(`bakery interop tests not run: Debian packages missing: ${missing} (apt-get install them; .ci/run does)`);

interface Run {
  /** Resolves with the URL the stock interactor printed. */
  readonly visit: Promise<string>;
  /** Resolves with everything printed, once the program exits. */
  readonly done: Promise<{ code: number | null; output: string }>;
}

/** Start a peer program; `command` gets the server URL and the condition as its last arguments. */
function start(command: readonly string[], baseUrl: string, condition: string): Run {
  const child = spawn(command[0] as string, [...command.slice(1), baseUrl, condition], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let onVisit: (url: string) => void = () => undefined;
  let onNoVisit: (e: Error) => void = () => undefined;
  const visit = new Promise<string>((resolve, reject) => {
    onVisit = resolve;
    onNoVisit = reject;
  });
  const read = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    const m = /^VISIT (\S+)$/m.exec(output);
    if (m?.[1] !== undefined) onVisit(m[1]);
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.on('close', (code) => {
      onNoVisit(new Error(`the program exited (${String(code)}) without a URL to visit:\n${output}`));
      resolve({ code, output });
    });
  });
  return { visit, done };
}

/**
 * The Go program, built (beforeAll) into the temporary directory and kept there for later runs,
 * named by a hash of its source and of the Go and bakery packages' versions: the build's link
 * step alone costs ~1 s of CPU.
 */
const GO_SOURCE = here('./interop/bakery-client.go');
const peerVersions = spawnSync('dpkg-query', ['-W', '-f=${Version} ', ...['golang-go', 'golang-gopkg-macaroon.v2-dev', 'golang-github-go-macaroon-bakery-macaroon-bakery-dev']], { encoding: 'utf8' }).stdout;
const GO_BIN = join(tmpdir(), `tessera-bakery-client-${createHash('sha256').update(readFileSync(GO_SOURCE)).update(peerVersions).digest('hex').slice(0, 16)}`);
const GO = [GO_BIN];
const PYTHON = ['/usr/bin/python3', here('./interop/bakery-client.py')];

describe.runIf(missing === '')('the Go and Python bakeries get a person\'s approval from Tessera with their stock clients', () => {
  let system: ServedSystem;

  beforeAll(async () => {
    system = await serveApprovalSystem(await incidentalBackend.open());
    // Build the Go program up front (unless an earlier run did), so the runs below time only the
    // protocol. Built under another name and renamed, so a concurrent run never sees half a file.
    if (!existsSync(GO_BIN)) {
      const partial = `${GO_BIN}.${process.pid}.partial`;
      const built = spawnSync('bash', ['-c', `source '${PEERS_SH}'; peers_go_build '${GO_SOURCE}' '${partial}'`], { encoding: 'utf8' });
      expect(built.status, built.stderr).toBe(0);
      renameSync(partial, GO_BIN);
    }
  }, 300_000);
  afterAll(async () => {
    await system?.close();
  });

  const requestId = (url: string): string => url.slice(url.lastIndexOf('/') + 1);
  const ALICE = { name: 'alice', groups: ['ops'] };

  for (const [name, command] of [['Go', GO], ['Python', PYTHON]] as const) {
    it(`${name}: interaction required → the printed approval page → approved → the discharge verifies on their side`, async () => {
      const run = start(command, system.baseUrl, `approve group:ops deploy the ${name} service`);
      const visit = await run.visit;
      expect(visit).toMatch(new RegExp(`^${system.baseUrl}/approve/requests/dr_`));
      const pending = await system.system.discharge.get(requestId(visit), ALICE);
      expect(pending?.what).toBe(`deploy the ${name} service`);
      await system.system.discharge.decide(requestId(visit), ALICE, { approve: true });
      const { code, output } = await run.done;
      expect(output).toContain('VERIFIED approved-by=alice');
      expect(code).toBe(0);
    }, 120_000);
  }

  it('Go: a denial reaches the stock client as permission denied with the person\'s reason', async () => {
    const run = start(GO, system.baseUrl, 'approve group:ops drop the database');
    const visit = await run.visit;
    await system.system.discharge.decide(requestId(visit), ALICE, { approve: false, reason: 'not on a Friday' });
    const { code, output } = await run.done;
    expect(code).toBe(1);
    expect(output).toMatch(/ERROR .*not on a Friday/);
  }, 120_000);

  it('Python: a denial fails the stock client\'s discharge', async () => {
    const run = start(PYTHON, system.baseUrl, 'approve group:ops drop the database');
    const visit = await run.visit;
    await system.system.discharge.decide(requestId(visit), ALICE, { approve: false, reason: 'not on a Friday' });
    const { code, output } = await run.done;
    expect(code).toBe(1);
    expect(output).toMatch(/ERROR InteractionError/);
  }, 120_000);
});
