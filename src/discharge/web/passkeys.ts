/**
 * WebAuthn passkeys for the approval pages, over `@simplewebauthn/server` (an optional peer
 * dependency, loaded on first use like the database drivers).
 *
 * Sign-in uses discoverable credentials (resident keys): the browser offers the passkeys it
 * holds for this site and the answer names its credential, so the server never says which
 * user names exist or which passkeys they have (a username-first flow would answer "this name
 * has these credential ids" to anyone), and signing in is one click. User verification (PIN or
 * biometrics) is required at registration and at every sign-in: a passkey replaces a password,
 * not only a second factor.
 *
 * The relying party is the system's public URL: its host name is the RP ID and its origin the
 * only accepted origin (behind a TLS-terminating proxy, the URL people type). Each ceremony's
 * challenge is stored bound to the browser (its session, or before sign-in the sign-in form's
 * CSRF cookie) and taken (deleted) before its answer is checked, so every challenge is
 * answered at most once, failed or not, and lives at most `challengeSeconds`. Signature
 * counters are checked by the library and then moved compare-and-set, so two uses racing on
 * one counter do not both pass.
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { TesseraError, invalidArgument } from '../../errors.js';
import type { PasskeyCredential, Store, User } from '../../storage/index.js';
import { loadOptionalPackage } from '../../util/optional-package.js';

type WebAuthnServer = typeof import('@simplewebauthn/server');
let library: Promise<WebAuthnServer> | undefined;
const webauthn = (): Promise<WebAuthnServer> =>
  (library ??= loadOptionalPackage('@simplewebauthn/server', 'Passkeys', () => import('@simplewebauthn/server')).catch((e: unknown) => {
    library = undefined;
    throw e;
  }));

export type PasskeyStore = Pick<Store, 'users' | 'passkeys' | 'audit' | 'transaction'>;

export interface PasskeysOptions {
  readonly store: PasskeyStore;
  /** The system's public URL: its host is the RP ID, its origin the expected origin. */
  readonly publicUrl: string;
  readonly clock: () => Date;
  /** How long a ceremony may take, in seconds (default 300). */
  readonly challengeSeconds?: number;
}

const RP_NAME = 'Tessera approvals';
/** EdDSA, ES256, RS256: what passkey providers use; their keys fit the repository's bound. */
const ALGORITHMS = [-8, -7, -257];
const B64URL = /^[A-Za-z0-9_-]*$/;
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** Field size limits (base64url characters) of a credential's JSON. */
const LIMITS = {
  id: 1400,
  clientDataJSON: 4096,
  attestationObject: 8192,
  authenticatorData: 4096,
  signature: 1024,
  userHandle: 128,
  publicKey: 2048,
} as const;

type Record_ = Readonly<Record<string, unknown>>;
const isRecord = (v: unknown): v is Record_ => typeof v === 'object' && v !== null && !Array.isArray(v);

function b64(fields: Record_, name: keyof typeof LIMITS, optional = false): string | undefined {
  const v = fields[name];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS[name] || !B64URL.test(v)) {
    throw invalidArgument(`The passkey's answer is malformed (${name}).`, { field: name });
  }
  return v;
}

/**
 * The shared part of both answers (`id`, `rawId`, `type`, client data), checked, and the raw
 * `response` object for the kind-specific fields. Extension results are dropped: none are asked for.
 */
function credentialFields(value: unknown) {
  if (!isRecord(value) || !isRecord(value.response) || value.type !== 'public-key') throw invalidArgument("The passkey's answer is malformed.", { field: 'credential' });
  const id = b64(value, 'id') as string;
  if (value.rawId !== id) throw invalidArgument("The passkey's answer is malformed (rawId).", { field: 'rawId' });
  const response = value.response;
  const common = { id, rawId: id, type: 'public-key' as const, clientExtensionResults: {} };
  return { common, response, clientDataJSON: b64(response, 'clientDataJSON') as string };
}

/** A registration answer, checked for shape and size before the library reads it. */
export function parseRegistration(value: unknown): RegistrationResponseJSON {
  const { common, response, clientDataJSON } = credentialFields(value);
  const transports = Array.isArray(response.transports) ? response.transports.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)).slice(0, 8) : [];
  const attestationObject = b64(response, 'attestationObject') as string;
  return { ...common, response: { clientDataJSON, attestationObject, transports: transports as RegistrationResponseJSON['response']['transports'] } };
}

/** A sign-in answer, checked for shape and size before the library reads it. */
export function parseAuthentication(value: unknown): AuthenticationResponseJSON {
  const { common, response, clientDataJSON } = credentialFields(value);
  const userHandle = response.userHandle === null ? undefined : b64(response, 'userHandle', true);
  const authenticatorData = b64(response, 'authenticatorData') as string;
  const signature = b64(response, 'signature') as string;
  return { ...common, response: { clientDataJSON, authenticatorData, signature, ...(userHandle === undefined ? {} : { userHandle }) } };
}

/** Why the library refused an answer, in words (its own messages quote values; these do not). */
function refusal(e: unknown): string {
  const m = e instanceof Error ? e.message.toLowerCase() : '';
  if (m.includes('origin')) return 'it was made on another web address (origin)';
  if (m.includes('rp id') || m.includes('rpid')) return 'it was made for another site (RP ID)';
  if (m.includes('user verification') || m.includes('user could not be verified') || m.includes('not verified')) {
    return 'the authenticator did not verify you (a PIN or biometrics is required)';
  }
  if (m.includes('counter')) return 'its signature counter went backwards (a copied authenticator?)';
  if (m.includes('challenge')) return 'it answers another challenge';
  if (m.includes('signature')) return 'its signature does not verify';
  if (m.includes('type')) return 'it is an answer of the wrong kind';
  return 'it is malformed';
}

export class Passkeys {
  readonly rpID: string;
  readonly origin: string;
  readonly #store: PasskeyStore;
  readonly #clock: () => Date;
  readonly #challengeMs: number;

  constructor(options: PasskeysOptions) {
    const url = new URL(options.publicUrl);
    this.rpID = url.hostname;
    this.origin = url.origin;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#challengeMs = (options.challengeSeconds ?? 300) * 1000;
  }

  /** Options for `navigator.credentials.create` for `user`, bound to `binding` (their session id). */
  async registrationOptions(user: User, binding: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { generateRegistrationOptions } = await webauthn();
    const existing = await this.#store.passkeys.listForUser(user.name);
    const options = await generateRegistrationOptions({
      rpName: RP_NAME,
      rpID: this.rpID,
      userName: user.name,
      userDisplayName: user.name,
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: [...c.transports] })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
      timeout: this.#challengeMs,
    });
    await this.#putChallenge(binding, 'register', options.challenge, user.name);
    return options;
  }

  /** Verify a registration answer for `userName` and store the new passkey (audited). */
  async register(userName: string, binding: string, answer: unknown): Promise<PasskeyCredential> {
    const response = parseRegistration(answer);
    const taken = await this.#store.passkeys.takeChallenge(binding, 'register', this.#clock());
    if (taken === undefined || taken.userName !== userName) {
      throw invalidArgument('No passkey registration is in progress here (it expired or was already used): start again.', { field: 'challenge' });
    }
    const { verifyRegistrationResponse } = await webauthn();
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: taken.challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpID,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch (e) {
      throw invalidArgument(`The passkey could not be registered: ${refusal(e)}.`, { field: 'credential' });
    }
    if (!verified.verified) throw invalidArgument('The passkey could not be registered: it did not verify.', { field: 'credential' });
    const { credential } = verified.registrationInfo;
    if (credential.publicKey.length > LIMITS.publicKey) throw invalidArgument('The passkey could not be registered: its key is too large.', { field: 'credential' });
    const now = this.#clock();
    return this.#store.transaction(async (tx) => {
      if ((await tx.passkeys.get(credential.id)) !== undefined) throw new TesseraError('ERR_CONFLICT', 'This passkey is registered already.');
      const added = await tx.passkeys.add(
        { id: credential.id, userName, publicKey: credential.publicKey, counter: credential.counter, transports: response.response.transports ?? [] },
        now,
      );
      await tx.audit.append({ actor: userName, action: 'passkey-register', subject: userName, details: { credential: credential.id.slice(0, 16) } });
      return added;
    });
  }

  /** Options for `navigator.credentials.get`, bound to `binding` (the sign-in form's cookie). */
  async signInOptions(binding: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { generateAuthenticationOptions } = await webauthn();
    const options = await generateAuthenticationOptions({ rpID: this.rpID, userVerification: 'required', timeout: this.#challengeMs });
    await this.#putChallenge(binding, 'authenticate', options.challenge);
    return options;
  }

  /** Verify a sign-in answer; the user it signs in (the use is recorded and audited). ERR_UNAUTHENTICATED otherwise. */
  async signIn(binding: string, answer: unknown): Promise<User> {
    const response = parseAuthentication(answer);
    const taken = await this.#store.passkeys.takeChallenge(binding, 'authenticate', this.#clock());
    if (taken === undefined) {
      throw new TesseraError('ERR_UNAUTHENTICATED', 'No passkey sign-in is in progress in this browser (it expired, or this answer was already used): try again.');
    }
    const stored = await this.#store.passkeys.get(response.id);
    const user = stored === undefined ? undefined : await this.#store.users.get(stored.userName);
    if (stored === undefined || user === undefined) throw new TesseraError('ERR_UNAUTHENTICATED', 'This passkey is not registered here (or it was removed).');
    const { verifyAuthenticationResponse } = await webauthn();
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: taken.challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpID,
        credential: { id: stored.id, publicKey: new Uint8Array(stored.publicKey), counter: stored.counter, transports: [...stored.transports] },
        requireUserVerification: true,
      });
    } catch (e) {
      throw new TesseraError('ERR_UNAUTHENTICATED', `The passkey sign-in was refused: ${refusal(e)}.`);
    }
    if (!verified.verified) throw new TesseraError('ERR_UNAUTHENTICATED', 'The passkey sign-in was refused: it did not verify.');
    const now = this.#clock();
    await this.#store.transaction(async (tx) => {
      if (!(await tx.passkeys.recordUse(stored.id, stored.counter, verified.authenticationInfo.newCounter, now))) {
        throw new TesseraError('ERR_UNAUTHENTICATED', 'This passkey was used at the same moment elsewhere: try again.');
      }
      await tx.audit.append({ actor: user.name, action: 'login', subject: user.name, details: { method: 'passkey', credential: stored.id.slice(0, 16) } });
    });
    return user;
  }

  async #putChallenge(binding: string, purpose: 'register' | 'authenticate', challenge: string, userName?: string): Promise<void> {
    const now = this.#clock();
    await this.#store.passkeys.putChallenge(
      { binding, purpose, challenge, ...(userName === undefined ? {} : { userName }), expiresAt: new Date(now.getTime() + this.#challengeMs) },
      now,
    );
  }
}
