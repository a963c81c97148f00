/**
 * "Who asks, and why": what a requester may tell the discharge service about itself.
 *
 * A *presentation* proves which token asks without handing over its power: the token
 * attenuated offline with `aud <discharge service location>` and `time-before <a few minutes
 * ahead>` as its last two caveats, so every other service refuses the copy and it soon expires.
 * The service verifies it (see presentation-verifier.ts) and shows what it proved as verified.
 * A *reason* is the requester's own words, shown as such. Both client and service use this module.
 */
import { aud, caveat, timeBefore } from '../../caveats/index.js';
import { unsafeTextProblem } from '../../caveats/common.js';
import { TesseraError, invalidArgument } from '../errors.js';
import type { Macaroon } from '../macaroon/macaroon.js';

/** Longest reason a requester may give. */
export const MAX_REQUEST_REASON = 500;
/** How far ahead a presentation's `time-before` may be; further is refused (it would live too long). */
export const MAX_PRESENTATION_SECONDS = 600;
/** What the client asks for. */
export const PRESENTATION_SECONDS = 300;
/** Longest encoded presentation accepted (a token with many caveats fits easily). */
export const MAX_PRESENTATION_CHARS = 32 * 1024;

/** The requester's reason, checked like a condition's text: bounded, no control or bidi characters. */
export function checkRequestReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '') {
    throw invalidArgument('reason must be non-empty text', { field: 'reason' });
  }
  if (reason.length > MAX_REQUEST_REASON) {
    throw new TesseraError('ERR_LIMIT', `reason is longer than ${MAX_REQUEST_REASON} characters`, { field: 'reason' });
  }
  const problem = unsafeTextProblem(reason);
  if (problem !== undefined) throw invalidArgument(`reason ${problem}`, { field: 'reason' });
  return reason;
}

/** The presentation of `token` for the discharge service at `location` (its two last caveats). */
export function presentationFor(token: Macaroon, location: string, now: Date = new Date()): Macaroon {
  const until = new Date(Math.floor(now.getTime() / 1000) * 1000 + PRESENTATION_SECONDS * 1000);
  return token.addFirstPartyCaveat(caveat.aud(location)).addFirstPartyCaveat(caveat.timeBefore(until));
}

/** What the service verified about the requesting token: shown to approvers marked *verified*. */
export type VerifiedToken = {
  readonly identifier: string;
  readonly label: string | null;
  readonly subject: string | null;
  /** ISO time the issuer minted it. */
  readonly mintedAt: string;
  /** Who minted it, from the issuer's audit log (e.g. `admin:tsa1.…`), or null. */
  readonly mintedBy: string | null;
  /** Its first-party caveats (the presentation's own two left out), in order. */
  readonly caveats: readonly string[];
  /** Locations of its third-party caveats (the one asked about included). */
  readonly thirdParty: readonly string[];
};

/** What the requester showed: a verified token, a token that did not verify, nothing, or chose privacy. */
export type Shown =
  | { readonly kind: 'verified'; readonly token: VerifiedToken }
  | { readonly kind: 'unverified'; readonly why: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'private' };

/**
 * Checks a presentation for the ticket `caveatId`; answers `verified` or `unverified` with why.
 * Called only with a presentation that passed `checkPresentation` for this service (its last two
 * caveats are the presentation's own, left out of what is shown).
 */
export type PresentationVerifier = (presentation: Macaroon, caveatId: Uint8Array) => Promise<Shown>;

/**
 * The presentation's own caveats must be its last two: `aud <service>` and a `time-before` in
 * the future and at most MAX_PRESENTATION_SECONDS ahead. Anything else is refused
 * (ERR_INVALID_ARGUMENT, field `presentation`): a copy without them would be a long-lived or
 * full-power token handed to this service, and the client must learn that instead of leaking
 * it. Returns the audience it is addressed to (the caller compares it with its own location: a
 * copy for another service is merely unverified) and the token's own first-party conditions.
 */
export function checkPresentation(presentation: Macaroon, now: Date): { readonly audience: string; readonly conditions: string[] } {
  const first = presentation.caveats.filter((c) => !c.thirdParty).map((c) => c.text ?? '');
  const last = presentation.caveats.slice(-2);
  const refuse = (why: string): TesseraError =>
    new TesseraError('ERR_INVALID_ARGUMENT', `presentation ${why}: end it with "aud <discharge service>" and a time-before at most ${MAX_PRESENTATION_SECONDS} s ahead`, { field: 'presentation' });
  if (last.length !== 2 || last.some((c) => c.thirdParty)) throw refuse('lacks its two last caveats');
  const [audience, until] = last.map((c) => c.text ?? '') as [string, string];
  if (!audience.startsWith(`${aud.name} `)) throw refuse('is not limited to an audience');
  let t = NaN;
  try {
    if (until.startsWith(`${timeBefore.name} `)) t = timeBefore.parse(until.slice(timeBefore.name.length + 1)).getTime();
  } catch {
    // not a time: refused below
  }
  if (!Number.isFinite(t) || t <= now.getTime()) throw refuse('has expired or has no time-before');
  if (t > now.getTime() + MAX_PRESENTATION_SECONDS * 1000) throw refuse('lives too long');
  return { audience: audience.slice(aud.name.length + 1), conditions: first.slice(0, -2) };
}
