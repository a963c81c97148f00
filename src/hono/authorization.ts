/**
 * The HTTP credential syntax, kept apart from hono: parse `Authorization: Macaroon
 * <primary>[,<discharge>...]` strictly, and format `WWW-Authenticate` challenges.
 *
 * Tokens travel as base64 (either alphabet, padded or not), so the credential is a comma
 * list over that alphabet: nothing else is accepted, which keeps header parsing a single
 * linear regex and leaves every token-level question to the strict decoders.
 */
import { TesseraError, limit } from '../errors.js';
import { DEFAULT_LIMITS } from '../macaroon/limits.js';

/** `Bearer` carries exactly the same credential, for clients that only know that scheme. */
const CREDENTIAL = /^(?:macaroon|bearer) ([A-Za-z0-9+/_=-]+(?:,[A-Za-z0-9+/_=-]+)*)$/i;

export interface HeaderBounds {
  /** Longest Authorization header accepted, in characters. */
  readonly maxHeaderLength: number;
  /** Most discharge tokens after the primary. */
  readonly maxDischarges: number;
}

/** What `macaroonAuth` accepts unless configured otherwise; the CLI reads the same values. */
export const DEFAULT_HEADER_BOUNDS: HeaderBounds = Object.freeze({ maxHeaderLength: 16_384, maxDischarges: DEFAULT_LIMITS.maxDischarges });

export interface Credential {
  readonly token: string;
  readonly discharges: readonly string[];
}

/**
 * Parse an Authorization header value. Throws ERR_LIMIT for an oversized header or too many
 * discharges and ERR_INVALID_ARGUMENT for anything not of the form above (another scheme, no or
 * extra spaces, an empty list item, a character outside base64). Never echoes the value.
 */
export function parseAuthorization(header: string, bounds: HeaderBounds): Credential {
  if (header.length > bounds.maxHeaderLength) throw limit(`Authorization header is longer than ${bounds.maxHeaderLength} characters`);
  const match = CREDENTIAL.exec(header);
  if (match === null) {
    throw new TesseraError('ERR_INVALID_ARGUMENT', 'Authorization header must be "Macaroon <token>[,<discharge>...]"', { field: 'authorization' });
  }
  const list = match[1] as string;
  // Count before splitting, so a header of many tiny items costs no allocation per item.
  let commas = 0;
  for (let i = list.indexOf(','); i >= 0; i = list.indexOf(',', i + 1)) {
    if (++commas > bounds.maxDischarges) throw limit(`more than ${bounds.maxDischarges} discharges`);
  }
  const [token, ...discharges] = list.split(',');
  return { token: token as string, discharges };
}

/**
 * A quoted-string (RFC 9110 §5.6.4): backslash-escape `"` and `\`, and replace what a header
 * value cannot carry (controls, non-ASCII) so a reason built from request data can never split
 * or corrupt the header.
 */
export function quote(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

/** RFC 6750 §3 style challenge for the Macaroon scheme. */
export function challenge(params: { readonly realm?: string; readonly error?: string; readonly description?: string }): string {
  const parts: string[] = [];
  if (params.realm !== undefined) parts.push(`realm=${quote(params.realm)}`);
  if (params.error !== undefined) parts.push(`error=${quote(params.error)}`);
  if (params.description !== undefined) parts.push(`error_description=${quote(params.description)}`);
  return parts.length === 0 ? 'Macaroon' : `Macaroon ${parts.join(', ')}`;
}
