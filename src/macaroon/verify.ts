/**
 * Signature verification of a primary macaroon and its discharges.
 *
 * Each macaroon's chain is recomputed in full and compared once, in constant time, before
 * anything it says is believed; only then are its discharges followed and its conditions
 * returned. Evaluating the conditions is the caller's job (see the Verifier): this module
 * answers "was this minted from that key and only attenuated since?".
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { TesseraError, invalidArgument, limit, malformed } from '../errors.js';
import { constantTimeEqual, utf8Text } from '../crypto/bytes.js';
import { hmacSha256 } from '../crypto/hmac.js';
import { deriveKey, openCaveatKey, type KeyInput } from '../crypto/keys.js';
import type { MacaroonData } from './data.js';
import { resolveLimits, type Limits } from './limits.js';
import { bindSignature, dataOf, hmac2, Macaroon } from './macaroon.js';

export interface VerifiedMacaroon {
  readonly identifier: Uint8Array;
  /** First-party conditions, in order, still to be evaluated by the caller. */
  readonly conditions: readonly string[];
  /** False for the primary (always first), true for discharges. */
  readonly discharge: boolean;
  /** 0 for the primary, 1 for its discharges, 2 for theirs… */
  readonly depth: number;
}

/**
 * A verified macaroon. The chain signature after each condition is kept in a private field:
 * never enumerable, serialised or inspected, and (unlike a WeakMap side table) free for the
 * garbage collector on the hot path.
 */
class Verified implements VerifiedMacaroon {
  readonly #chain: readonly Uint8Array[];
  constructor(
    readonly identifier: Uint8Array,
    readonly conditions: readonly string[],
    readonly discharge: boolean,
    readonly depth: number,
    chain: readonly Uint8Array[],
  ) {
    this.#chain = chain;
    Object.freeze(this);
  }

  static chainOf(v: VerifiedMacaroon): readonly Uint8Array[] | undefined {
    return v instanceof Verified ? v.#chain : undefined;
  }
}

/**
 * A stable, non-secret name for condition `index` of a verified macaroon: SHA-256 of the chain
 * signature right after it. Later attenuation cannot change it, so it names "this caveat on
 * this token" for stateful caveats (`uses n` counters). The signature itself is a credential
 * (the token cut at that caveat), so only its hash leaves this module.
 */
export function conditionAnchor(verified: VerifiedMacaroon, index: number): Uint8Array {
  const sig = Verified.chainOf(verified)?.[index];
  if (sig === undefined) throw invalidArgument('no such verified condition', { field: 'index' });
  return sha256(sig);
}

export interface VerifySignatureOptions {
  readonly limits?: Partial<Limits>;
  /**
   * `ignore`: a third-party caveat with no discharge given is passed over instead of refused
   * (ERR_DISCHARGE_MISSING). Only for asking "was this token minted from that key?" (the
   * discharge service checking who asks), never for authorizing a request.
   */
  readonly undischarged?: 'refuse' | 'ignore';
}

/** A Map key for an identifier (hex: portable, and only built when there are discharges). */
const idKey = (id: Uint8Array): string => bytesToHex(id);

/** What one verification carries through its walk over the discharges. */
interface Walk {
  readonly limits: Limits;
  readonly primarySignature: Uint8Array;
  readonly discharges: readonly MacaroonData[];
  /** Discharge index by identifier; undefined when there are no discharges. */
  readonly byId: Map<string, number> | undefined;
  readonly used: Uint8Array;
  readonly onPath: Uint8Array;
  readonly verified: VerifiedMacaroon[];
  readonly ignoreUndischarged: boolean;
}

/**
 * Verify `primary` against `rootKey` with the given discharges. Returns the primary and every
 * discharge used (each exactly once), with their first-party conditions; throws
 * ERR_SIGNATURE, ERR_DISCHARGE_MISSING, ERR_DISCHARGE_UNUSED, ERR_DISCHARGE_CYCLE or ERR_LIMIT.
 */
export function verifySignature(
  primary: Macaroon,
  rootKey: KeyInput,
  discharges: readonly Macaroon[] = [],
  options?: VerifySignatureOptions,
): readonly VerifiedMacaroon[] {
  const limits = resolveLimits(options?.limits);
  if (!Array.isArray(discharges)) throw invalidArgument('discharges must be an array of Macaroons', { field: 'discharges' });
  if (discharges.length > limits.maxDischarges) throw limit(`more than ${limits.maxDischarges} discharges`);
  const primaryData = dataOf(primary);
  const dischargeData: MacaroonData[] = [];
  let byId: Map<string, number> | undefined;
  if (discharges.length > 0) {
    byId = new Map();
    for (let i = 0; i < discharges.length; i++) {
      const d = dataOf(discharges[i] as Macaroon);
      const key = idKey(d.identifier);
      if (byId.has(key)) throw new TesseraError('ERR_DISCHARGE_UNUSED', 'two discharges share an identifier');
      byId.set(key, i);
      dischargeData.push(d);
    }
  }
  const walk: Walk = {
    limits,
    primarySignature: primaryData.signature,
    discharges: dischargeData,
    byId,
    used: new Uint8Array(dischargeData.length),
    onPath: new Uint8Array(dischargeData.length),
    verified: [],
    ignoreUndischarged: options?.undischarged === 'ignore',
  };
  visit(walk, primaryData, deriveKey(rootKey, 'rootKey'), 0);
  if (walk.used.includes(0)) throw new TesseraError('ERR_DISCHARGE_UNUSED', 'a discharge was presented that no caveat asked for');
  // Primary first, then discharges in the order they were reached.
  return Object.freeze(walk.verified);
}

function visit(walk: Walk, m: MacaroonData, key: Uint8Array, depth: number): void {
  // 1. Recompute this macaroon's whole chain; a vid that fails to open also means tampering.
  let sig = hmacSha256(key, m.identifier);
  let intact = true;
  let thirdParty: { identifier: Uint8Array; key: Uint8Array }[] | undefined;
  const conditions: string[] = [];
  const anchors: Uint8Array[] = [];
  let binary = false;
  for (const c of m.caveats) {
    if (c.verificationId === undefined) {
      sig = hmacSha256(sig, c.identifier);
      const text = utf8Text(c.identifier);
      if (text === undefined) binary = true;
      else conditions.push(text);
      anchors.push(sig);
      continue;
    }
    try {
      (thirdParty ??= []).push({ identifier: c.identifier, key: openCaveatKey(sig, c.verificationId) });
    } catch {
      intact = false;
    }
    sig = hmac2(sig, c.verificationId, c.identifier);
  }
  // 2. Compare once, in constant time. Discharges must be bound to the primary's signature.
  const expected = depth === 0 ? sig : bindSignature(walk.primarySignature, sig);
  if (!constantTimeEqual(expected, m.signature) || !intact) {
    throw new TesseraError('ERR_SIGNATURE', depth === 0 ? 'macaroon signature does not verify' : 'discharge macaroon signature does not verify');
  }
  // A condition no verifier could read fails closed, once the chain is known to be intact.
  if (binary) throw malformed('caveat condition is not valid UTF-8', { field: 'caveat condition' });
  // The chain signatures stay private: each is a credential for the token cut at that caveat.
  const entry = new Verified(m.identifier.slice(), Object.freeze(conditions), depth > 0, depth, anchors);
  walk.verified.push(entry);
  // 3. Only now follow its third-party caveats into their discharges.
  if (thirdParty === undefined) return;
  for (const tp of thirdParty) {
    const index = walk.byId?.get(idKey(tp.identifier));
    if (index === undefined) {
      if (walk.ignoreUndischarged) continue;
      throw new TesseraError('ERR_DISCHARGE_MISSING', 'no discharge for a third-party caveat');
    }
    if (walk.onPath[index]) throw new TesseraError('ERR_DISCHARGE_CYCLE', 'discharges form a cycle');
    if (walk.used[index]) throw new TesseraError('ERR_DISCHARGE_CYCLE', 'a discharge would be used for more than one caveat');
    if (depth + 1 > walk.limits.maxDepth) throw limit(`discharges nest deeper than ${walk.limits.maxDepth}`);
    walk.used[index] = 1;
    walk.onPath[index] = 1;
    visit(walk, walk.discharges[index] as MacaroonData, tp.key, depth + 1);
    walk.onPath[index] = 0;
  }
}

export { Macaroon };
