/**
 * Encryption at rest for the secrets Tessera must be able to read back (root keys, the
 * discharger's private key): XChaCha20-Poly1305 under a 32-byte master key.
 *
 * The master key comes from `TESSERA_MASTER_KEY` (base64 or hex, exactly 32 bytes) or, for the
 * embedded default, from `<dataDir>/master.key`, created on first use with mode 0600. Each sealed
 * value is `0x01 || nonce(24) || ciphertext+tag`, with AAD binding purpose and row id, so a sealed
 * value copied into another row (or used for another purpose) does not open.
 */
import { constants as fsConstants } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { TesseraError } from '../errors.js';

/** What a sealed value is for; part of the AAD. */
export type SealPurpose = 'root-key' | 'discharger-key' | 'webhook-secret' | 'webhook-url';

/** Name of the environment variable holding the master key. */
export const MASTER_KEY_ENV = 'TESSERA_MASTER_KEY';
/** File name of the embedded master key inside the data directory. */
export const MASTER_KEY_FILE = 'master.key';

const KEY_LENGTH = 32;
const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;
const VERSION = 0x01;
const encoder = new TextEncoder();

/** The master key. Its bytes never leave this object (not via JSON, inspection or toString). */
export class MasterKey {
  readonly #key: Uint8Array;

  private constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** Wrap exactly 32 bytes (copied). */
  static fromBytes(bytes: Uint8Array): MasterKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_LENGTH) {
      throw new TesseraError('ERR_CONFIG', `the master key must be exactly ${KEY_LENGTH} bytes`);
    }
    return new MasterKey(Uint8Array.from(bytes));
  }

  /** A fresh random master key (tests, in-memory databases). */
  static generate(): MasterKey {
    return new MasterKey(randomBytes(KEY_LENGTH));
  }

  /** Encrypt `plaintext` for the row `id` and `purpose`. */
  seal(purpose: SealPurpose, id: string, plaintext: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_LENGTH);
    const ct = xchacha20poly1305(this.#key, nonce, aad(purpose, id)).encrypt(plaintext);
    const out = new Uint8Array(1 + NONCE_LENGTH + ct.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(ct, 1 + NONCE_LENGTH);
    return out;
  }

  /** Decrypt a value sealed by `seal` for the same purpose and id; ERR_CRYPTO on any mismatch. */
  open(purpose: SealPurpose, id: string, sealed: Uint8Array): Uint8Array {
    if (sealed.length < 1 + NONCE_LENGTH + TAG_LENGTH || sealed[0] !== VERSION) {
      throw new TesseraError('ERR_CRYPTO', 'sealed value is malformed', { purpose });
    }
    const nonce = sealed.subarray(1, 1 + NONCE_LENGTH);
    try {
      return xchacha20poly1305(this.#key, nonce, aad(purpose, id)).decrypt(sealed.subarray(1 + NONCE_LENGTH));
    } catch (cause) {
      throw new TesseraError(
        'ERR_CRYPTO',
        'cannot decrypt a sealed value: wrong master key or tampered data',
        { purpose },
        { cause },
      );
    }
  }

  toJSON(): string {
    return '[MasterKey]';
  }

  toString(): string {
    return '[MasterKey]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[MasterKey]';
  }
}

function aad(purpose: SealPurpose, id: string): Uint8Array {
  // Length-prefix the purpose so no (purpose, id) pair can collide with another.
  return encoder.encode(`tessera/seal/v1\n${purpose.length}:${purpose}\n${id}`);
}

/**
 * Parse a master key given as text: 64 hex digits, or base64 / base64url (padding optional) of
 * exactly 32 bytes. ERR_CONFIG otherwise; the message names `source`, never the value.
 */
export function parseMasterKey(text: string, source: string = MASTER_KEY_ENV): MasterKey {
  const s = text.trim();
  let bytes: Uint8Array | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(s)) {
    bytes = Buffer.from(s, 'hex');
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const alphabet = /[-_]/.test(s) ? 'base64url' : 'base64';
    const decoded = Buffer.from(s, alphabet);
    // Node decodes leniently; accept only what re-encodes to the input (no mixed alphabets,
    // no stray bits), so a typo cannot silently become a different key.
    if (decoded.toString(alphabet).replace(/=+$/, '') === s.replace(/=+$/, '')) bytes = decoded;
  }
  if (bytes === undefined || bytes.length !== KEY_LENGTH) {
    throw new TesseraError(
      'ERR_CONFIG',
      `${source} must be exactly ${KEY_LENGTH} bytes, encoded as 64 hex digits or as base64`,
      { field: source },
    );
  }
  const key = MasterKey.fromBytes(bytes);
  bytes.fill(0);
  return key;
}

/**
 * Read `<dataDir>/master.key`, creating it (random, mode 0600, atomically: a temp file is
 * hard-linked into place, so two processes racing both end up with the same key) when absent.
 * A key file readable or writable by group or others is refused with ERR_CONFIG.
 */
export async function loadOrCreateKeyFile(path: string): Promise<MasterKey> {
  try {
    return await readKeyFile(path);
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TesseraError('ERR_CONFIG', 'cannot read the master key file', { field: 'master.key' }, { cause: e });
    }
  }
  const tmp = `${path}.${Buffer.from(randomBytes(8)).toString('hex')}.tmp`;
  const key = randomBytes(KEY_LENGTH);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      await fh.writeFile(`${Buffer.from(key).toString('base64')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another process created it first: use theirs.
    }
  } catch (cause) {
    if (cause instanceof TesseraError) throw cause;
    throw new TesseraError('ERR_CONFIG', 'cannot create the master key file', { field: 'master.key' }, { cause });
  } finally {
    key.fill(0);
    await unlink(tmp).catch(() => undefined);
  }
  return readKeyFile(path);
}

async function readKeyFile(path: string): Promise<MasterKey> {
  const info = await stat(path);
  if (!info.isFile()) {
    throw new TesseraError('ERR_CONFIG', 'the master key path is not a regular file', { field: 'master.key' });
  }
  if ((info.mode & 0o077) !== 0) {
    throw new TesseraError(
      'ERR_CONFIG',
      `the master key file is accessible by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`,
      { field: 'master.key' },
    );
  }
  const text = await readFile(path, 'utf8');
  return parseMasterKey(text, 'the master key file');
}

/** Where the master key comes from. */
export interface MasterKeyOptions {
  /** Value of TESSERA_MASTER_KEY (pass `process.env.TESSERA_MASTER_KEY`); wins when non-empty. */
  readonly env?: string | undefined;
  /** Data directory of the embedded database; its `master.key` is used (or created) otherwise. */
  readonly dataDir?: string | undefined;
}

/**
 * Resolve the master key: the env value if set, else `<dataDir>/master.key`. With neither,
 * ERR_CONFIG (a server on real PostgreSQL must be given TESSERA_MASTER_KEY).
 */
export async function resolveMasterKey(options: MasterKeyOptions): Promise<MasterKey> {
  if (options.env !== undefined && options.env.trim() !== '') return parseMasterKey(options.env);
  if (options.dataDir !== undefined) return loadOrCreateKeyFile(join(options.dataDir, MASTER_KEY_FILE));
  throw new TesseraError('ERR_CONFIG', `no master key: set ${MASTER_KEY_ENV} (32 bytes, base64 or hex)`, {
    field: MASTER_KEY_ENV,
  });
}
