/**
 * Live interoperability with js-macaroon (the `macaroon` npm package): tokens minted here verify
 * there and the reverse, signatures agree byte for byte, third-party caveats and bound discharges
 * cross in both directions.
 *
 * Keys: js-macaroon always applies the libmacaroons derivation (makeKey) to the root key it is
 * given, exactly as Tessera does for a string or byte key. So both sides get the same string;
 * where Tessera uses `{ raw }`, the raw key is the derived one, i.e. the same logical key.
 * Multi-caveat tokens cross as V2 JSON: js-macaroon's binary export breaks past a few caveats
 * (its buffer growth overflows), and its binary import is exercised on small tokens.
 */
import jsMacaroon, { type JsMacaroon, type JsMacaroonJSON } from 'macaroon';
import { describe, expect, it } from 'vitest';
import { Macaroon, verifySignature, type MacaroonJSON } from '../src/index.js';
import { deriveKey } from '../src/crypto/keys.js';
import { b64url, outcome, utf8 } from './support/macaroon-test-utils.js';

const ROOT_KEY = 'interop root key';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const conditions = Array.from({ length: 20 }, (_, i) => `field${i} = value ${i} ✓`);
/** js-macaroon's check: accept exactly the listed conditions. */
const accept = (allowed: readonly string[]) => (condition: string): string | null =>
  allowed.includes(condition) ? null : `condition ${condition} not allowed`;
/** js-macaroon's verify throws plain Errors; true when it accepts. */
const jsVerifies = (m: JsMacaroon, key: string | Uint8Array, check: (c: string) => string | null, discharges: JsMacaroon[] = []): boolean => {
  try {
    m.verify(key, check, discharges);
    return true;
  } catch {
    return false;
  }
};
const toJs = (m: Macaroon): JsMacaroon => jsMacaroon.importMacaroon(m.toJSONObject() as JsMacaroonJSON);
const fromJs = (m: JsMacaroon): Macaroon => Macaroon.decode(m.exportJSON() as MacaroonJSON);

function mintBoth(n: number, identifier: string | Uint8Array = 'interop-id'): { ours: Macaroon; theirs: JsMacaroon } {
  let ours = Macaroon.mint({ rootKey: ROOT_KEY, identifier, location: 'https://issuer.example' });
  const theirs = jsMacaroon.newMacaroon({ rootKey: ROOT_KEY, identifier, location: 'https://issuer.example' });
  for (const c of conditions.slice(0, n)) {
    ours = ours.addFirstPartyCaveat(c);
    theirs.addFirstPartyCaveat(c);
  }
  return { ours, theirs };
}

describe('first-party caveats', () => {
  for (const n of [0, 1, 5, 20]) {
    it(`${n} caveats: same signature byte for byte, and each side verifies the other's token`, () => {
      const { ours, theirs } = mintBoth(n);
      expect(hex(ours.signature)).toBe(hex(theirs.signature));
      // Tessera -> js-macaroon (JSON object and JSON text via base64 are both accepted there).
      const imported = toJs(ours);
      expect(jsVerifies(imported, ROOT_KEY, accept(conditions))).toBe(true);
      expect(jsVerifies(imported, 'another key', accept(conditions))).toBe(false);
      if (n > 0) expect(jsVerifies(imported, ROOT_KEY, accept(conditions.slice(1)))).toBe(false);
      // js-macaroon -> Tessera.
      const back = fromJs(theirs);
      expect(verifySignature(back, ROOT_KEY)[0]?.conditions).toEqual(conditions.slice(0, n));
      expect(outcome(() => verifySignature(back, 'another key'))).toBe('ERR_SIGNATURE');
      // Both JSON forms say the same thing.
      expect(JSON.parse(JSON.stringify(theirs.exportJSON()))).toEqual(JSON.parse(ours.encode('json')));
    });
  }

  it('a Tessera raw key equal to the derived key verifies tokens js-macaroon minted from the string', () => {
    const { theirs } = mintBoth(5);
    const raw = { raw: deriveKey(ROOT_KEY) };
    expect(verifySignature(fromJs(theirs), raw)[0]?.conditions).toHaveLength(5);
    const ours = conditions.slice(0, 5).reduce((m, c) => m.addFirstPartyCaveat(c), Macaroon.mint({ rootKey: raw, identifier: 'interop-id' }));
    expect(jsVerifies(toJs(ours), ROOT_KEY, accept(conditions))).toBe(true);
    // A byte key and the same text as a string are the same key on both sides.
    const byBytes = Macaroon.mint({ rootKey: utf8(ROOT_KEY), identifier: 'x' }).addFirstPartyCaveat('a');
    expect(jsVerifies(toJs(byBytes), ROOT_KEY, accept(['a']))).toBe(true);
    expect(jsVerifies(toJs(byBytes), utf8(ROOT_KEY), accept(['a']))).toBe(true);
  });

  it('binary identifiers and caveats cross as i64 in JSON', () => {
    const id = new Uint8Array([0, 0xff, 0x80, 1, 2, 3]);
    const cav = new Uint8Array([0xc3, 0x28, 0x00]);
    const ours = Macaroon.mint({ rootKey: ROOT_KEY, identifier: id }).addFirstPartyCaveat(cav);
    const theirs = jsMacaroon.newMacaroon({ rootKey: ROOT_KEY, identifier: id });
    theirs.addFirstPartyCaveat(cav);
    expect(hex(ours.signature)).toBe(hex(theirs.signature));
    expect(ours.toJSONObject().i64).toBe(b64url(id));
    expect(hex(toJs(ours).identifier)).toBe(hex(id));
    expect(hex(fromJs(theirs).caveats[0]!.identifier)).toBe(hex(cav));
    expect(fromJs(theirs).encode()).toBe(ours.encode());
  });

  it('V2 binary crosses both ways for small tokens', () => {
    for (const n of [0, 1, 2]) {
      const { ours, theirs } = mintBoth(n);
      expect(hex(theirs.exportBinary())).toBe(hex(ours.toBytes()));
      expect(Macaroon.decode(theirs.exportBinary()).encode()).toBe(ours.encode());
      const imported = jsMacaroon.importMacaroon(ours.encode('v2'));
      expect(hex(imported.signature)).toBe(hex(ours.signature));
      expect(jsVerifies(imported, ROOT_KEY, accept(conditions))).toBe(true);
      expect(jsVerifies(jsMacaroon.importMacaroon(ours.toBytes()), ROOT_KEY, accept(conditions))).toBe(true);
    }
  });
});

describe('third-party caveats with bound discharges', () => {
  const tp = { caveatKey: 'shared caveat key', identifier: 'tp-ticket', location: 'https://tp.example' } as const;

  it('Tessera primary + Tessera discharge verify in js-macaroon', () => {
    const primary = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'p' }).addFirstPartyCaveat('a = 1').addThirdPartyCaveat(tp).addFirstPartyCaveat('b = 2');
    const discharge = Macaroon.mint({ rootKey: tp.caveatKey, identifier: tp.identifier, location: tp.location }).addFirstPartyCaveat('d = 3');
    const bound = primary.bindForRequest(discharge);
    const check = accept(['a = 1', 'b = 2', 'd = 3']);
    expect(jsVerifies(toJs(primary), ROOT_KEY, check, [toJs(bound)])).toBe(true);
    expect(jsVerifies(toJs(primary), ROOT_KEY, check, [toJs(discharge)])).toBe(false); // unbound
    expect(jsVerifies(toJs(primary), ROOT_KEY, accept(['a = 1', 'b = 2']), [toJs(bound)])).toBe(false);
    // js-macaroon binds the same way: binding there gives our bound signature.
    const jsBound = toJs(discharge);
    jsBound.bindToRoot(primary.signature);
    expect(hex(jsBound.signature)).toBe(hex(bound.signature));
  });

  it('js-macaroon primary + js-macaroon discharge verify in Tessera, also through dischargeMacaroon', () => {
    const primary = jsMacaroon.newMacaroon({ rootKey: ROOT_KEY, identifier: 'p', location: 'https://issuer.example' });
    primary.addFirstPartyCaveat('a = 1');
    primary.addThirdPartyCaveat(tp.caveatKey, tp.identifier, tp.location);
    const discharge = jsMacaroon.newMacaroon({ rootKey: tp.caveatKey, identifier: tp.identifier, location: tp.location });
    discharge.addFirstPartyCaveat('d = 3');
    const unbound = discharge.clone();
    discharge.bindToRoot(primary.signature);
    const ours = fromJs(primary);
    expect(verifySignature(ours, ROOT_KEY, [fromJs(discharge)]).map((v) => v.conditions)).toEqual([['a = 1'], ['d = 3']]);
    expect(outcome(() => verifySignature(ours, ROOT_KEY, [fromJs(unbound)]))).toBe('ERR_SIGNATURE');
    expect(hex(ours.bindForRequest(fromJs(unbound)).signature)).toBe(hex(discharge.signature));

    let gathered: JsMacaroon[] = [];
    jsMacaroon.dischargeMacaroon(
      primary,
      (_loc, caveatLocation, caveatId, success) => {
        expect(caveatLocation).toBe(tp.location);
        const d = jsMacaroon.newMacaroon({ rootKey: tp.caveatKey, identifier: caveatId, location: caveatLocation });
        d.addFirstPartyCaveat('d = 3');
        success(d);
      },
      (ms) => {
        gathered = ms;
      },
      (e) => {
        throw e;
      },
    );
    expect(gathered).toHaveLength(2);
    const [p, ...ds] = gathered.map(fromJs) as [Macaroon, ...Macaroon[]];
    expect(verifySignature(p, ROOT_KEY, ds)).toHaveLength(2);
  });

  it('mixed: a Tessera primary discharged by js-macaroon, and a js-macaroon primary discharged by Tessera', () => {
    const primary = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'p' }).addThirdPartyCaveat(tp);
    const jsDischarge = jsMacaroon.newMacaroon({ rootKey: tp.caveatKey, identifier: tp.identifier });
    jsDischarge.bindToRoot(primary.signature);
    expect(verifySignature(primary, ROOT_KEY, [fromJs(jsDischarge)])).toHaveLength(2);

    const jsPrimary = jsMacaroon.newMacaroon({ rootKey: ROOT_KEY, identifier: 'p' });
    jsPrimary.addThirdPartyCaveat(tp.caveatKey, tp.identifier, tp.location);
    const ourDischarge = Macaroon.mint({ rootKey: tp.caveatKey, identifier: tp.identifier });
    const boundHere = fromJs(jsPrimary).bindForRequest(ourDischarge);
    expect(jsVerifies(jsPrimary, ROOT_KEY, accept([]), [toJs(boundHere)])).toBe(true);
    expect(jsVerifies(jsPrimary, 'wrong', accept([]), [toJs(boundHere)])).toBe(false);
  });

  it('multi-level discharges cross intact', () => {
    const primary = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'p' }).addThirdPartyCaveat(tp);
    const d1 = Macaroon.mint({ rootKey: tp.caveatKey, identifier: tp.identifier }).addThirdPartyCaveat({ caveatKey: 'k2', identifier: 'level-2', location: 'l2' });
    const d2 = Macaroon.mint({ rootKey: 'k2', identifier: 'level-2' }).addFirstPartyCaveat('deep = yes');
    const bound = [d1, d2].map((d) => primary.bindForRequest(d));
    expect(jsVerifies(toJs(primary), ROOT_KEY, accept(['deep = yes']), bound.map(toJs))).toBe(true);
    expect(jsVerifies(toJs(primary), ROOT_KEY, accept([]), bound.map(toJs))).toBe(false);
    expect(verifySignature(fromJs(toJs(primary)), ROOT_KEY, bound.map((d) => fromJs(toJs(d))))).toHaveLength(3);
  });
});
