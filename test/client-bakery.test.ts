/**
 * `tessera/client` and `tessera discharge` with tokens whose third-party caveat ids point to
 * tickets carried apart (bakery v3): the bakery's `{ m, v: 3, cdata, ns }` JSON as the Go bakery
 * wrote it (test/fixtures/bakery/peers.json), and v3 caveats Tessera adds itself.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '../src/errors.js';
import {
  addBakeryDischargeCaveat,
  addDischargeCaveat,
  decodeBakeryMacaroon,
  encodeBakeryMacaroon,
  gatherDischarges,
} from '../src/client/index.js';
import { Macaroon, verifySignature } from '../src/index.js';
import { makeDischargeCommand } from '../src/cli/commands/discharge.js';
import { makeAttenuateCommand } from '../src/cli/commands/attenuate.js';
import { parseAuthorization } from '../src/hono/authorization.js';
import type { CliIO } from '../src/cli/io.js';
import { incidentalBackend } from './support/databases.js';
import { peers } from './support/bakery-peers.js';
import { ALICE, dischargeFixture, type DischargeFixture } from './support/discharge.js';
import { expectCode } from './support/expect-code.js';

const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));

let fx: DischargeFixture;
beforeAll(async () => {
  fx = await dischargeFixture(await incidentalBackend.open(), {
    recheckMs: 50,
    location: peers.discharger.location,
    keyPair: { privateKey: bytes(peers.discharger.privateKey), publicKey: bytes(peers.discharger.publicKey) },
  });
});

const approving = (url: string): void => {
  setTimeout(() => void fx.service.decide(url.split('/').pop() as string, ALICE, { approve: true }).catch(() => undefined), 20);
};

describe('the bakery JSON with carried tickets', () => {
  const go = peers.go.bakery.find((b) => b.version === 3)?.bakeryJSON ?? '';

  it('decodes the Go bakery\'s macaroon and its cdata ticket, and re-encodes it', () => {
    const decoded = decodeBakeryMacaroon(go);
    const third = decoded.token.caveats.find((c) => c.thirdParty);
    expect(third?.identifier).toEqual(new Uint8Array([3, 0]));
    expect(decoded.tickets.get('AwA')?.[0]).toBe(3);
    expect(decodeBakeryMacaroon(encodeBakeryMacaroon(decoded)).tickets).toEqual(decoded.tickets);
    // A pre-v3 bakery macaroon is the bare macaroon JSON, with no tickets.
    expect(decodeBakeryMacaroon(peers.go.bakery.find((b) => b.version === 2)?.bakeryJSON ?? '').tickets.size).toBe(0);
  });

  it('fails closed on anything ambiguous or unbounded', async () => {
    const obj = JSON.parse(go) as Record<string, unknown>;
    for (const bad of [
      { ...obj, v: 2 },
      { ...obj, extra: 1 },
      { ...obj, cdata: { AQI: 'AAAA' } }, // a ticket for no caveat of the token
      { ...obj, cdata: [] },
      { ...obj, cdata: { AwA: 5 } },
      { ...obj, ns: 5 },
      { ...obj, m: 'x' },
    ]) {
      await expectCode(() => decodeBakeryMacaroon(JSON.stringify(bad)), 'ERR_MALFORMED');
    }
    await expectCode(() => decodeBakeryMacaroon('{'), 'ERR_MALFORMED');
    // Fuzz: any mutation of the peer's JSON decodes or fails with a TesseraError, never a crash.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: go.length - 1 }), fc.integer({ min: 0, max: 8 }), fc.string({ maxLength: 6 }), (at, cut, insert) => {
        try {
          decodeBakeryMacaroon(go.slice(0, at) + insert + go.slice(at + cut));
        } catch (e) {
          expect(isTesseraError(e), String(e)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
    await expectCode(() => decodeBakeryMacaroon('x'.repeat(2_000_000)), 'ERR_LIMIT');
  });
});

describe('gathering discharges for v3 caveats', () => {
  it('the Go bakery\'s token (bakery JSON text): the ticket is sent apart and the discharge binds under the short id', async () => {
    const go = peers.go.bakery.find((b) => b.version === 3);
    const bundle = await gatherDischarges(go?.bakeryJSON ?? '', { fetch: fx.fetch, onApprovalUrl: approving, waitSeconds: 2 });
    expect(bundle.discharges).toHaveLength(1);
    expect(bundle.discharges[0]?.identifier).toEqual(new Uint8Array([3, 0]));
    const verified = verifySignature(bundle.token, bytes(go?.rootKey ?? ''), bundle.discharges);
    expect(verified[1]?.conditions).toContain('declared approved-by alice');
  });

  it('a v3 caveat Tessera adds itself: short id, carried ticket, verified by Tessera with uses 1; v2 stays embedded', async () => {
    const base = fx.mint('tool deploy');
    const v3 = addBakeryDischargeCaveat(base, { location: fx.service.location, publicKey: fx.service.publicKey, condition: 'approve alice deploy' });
    const again = addBakeryDischargeCaveat(v3, { location: fx.service.location, publicKey: fx.service.publicKey, condition: 'login alice' });
    const ids = again.token.caveats.filter((c) => c.thirdParty).map((c) => [...c.identifier]);
    expect(ids).toEqual([[3, 0], [3, 1]]);
    expect(again.tickets.size).toBe(2);
    expect(addDischargeCaveat(base, { location: fx.service.location, publicKey: fx.service.publicKey, condition: 'approve alice deploy' }).caveats[1]?.identifier[0]).toBe(2);

    const bundle = await gatherDischarges(v3, { fetch: fx.fetch, onApprovalUrl: approving, waitSeconds: 2 });
    const ok = await fx.verifier.verify(bundle.token, { discharges: bundle.discharges, context: { tool: 'deploy' } });
    expect(ok.declared.get('approved-by')).toBe('alice');
    await expectCode(fx.verifier.verify(bundle.token, { discharges: bundle.discharges, context: { tool: 'deploy' } }), 'ERR_USAGE_EXCEEDED');
  });

  it('without its ticket a v3 caveat cannot be discharged (the service cannot open a 2-byte id)', async () => {
    const v3 = addBakeryDischargeCaveat(fx.mint(), { location: fx.service.location, publicKey: fx.service.publicKey, condition: 'approve alice x' });
    await expectCode(gatherDischarges(v3.token, { fetch: fx.fetch, waitSeconds: 1, timeoutMs: 5_000 }), 'ERR_THIRD_PARTY');
  });

  it('tessera attenuate --bakery-v3 prints the bakery JSON; tessera discharge reads it from stdin and prints the Authorization value', async () => {
    const out: string[] = [];
    const attenuateIo: CliIO = {
      out: (t) => void out.push(t),
      err: () => undefined,
      readStdin: async () => undefined,
      env: {},
      cwd: process.cwd(),
      stopSignal: () => new Promise(() => undefined),
    };
    const attenuate = makeAttenuateCommand({ fetch: fx.fetch });
    const args = { 'third-party': fx.service.location, condition: 'approve alice deploy', 'bakery-v3': true };
    expect(await attenuate.run({ values: args, positionals: [fx.mint('tool deploy').encode()] }, attenuateIo)).toBe(0);
    const v3 = decodeBakeryMacaroon(out[0] as string);
    expect(v3.tickets.size).toBe(1);
    const stdout: string[] = [];
    const io: CliIO = { ...attenuateIo, out: (t) => void stdout.push(t), readStdin: async () => `${encodeBakeryMacaroon(v3)}\n` };
    const command = makeDischargeCommand({ fetch: fx.fetch, open: approving });
    expect(await command.run({ values: { open: true }, positionals: ['-'] }, io)).toBe(0);
    const credential = parseAuthorization(stdout[0] as string, { maxHeaderLength: 16_384, maxDischarges: 32 });
    expect(Macaroon.decode(credential.token).caveats).toHaveLength(2);
    const ok = await fx.verifier.verify(credential.token, { discharges: credential.discharges, context: { tool: 'deploy' } });
    expect(ok.declared.get('approved-by')).toBe('alice');
  });
});
