/** `tessera inspect`: decode a token and show what it says, offline. Never prints the signature. */
import { base64url } from '../../crypto/bytes.js';
import { parseIdentifier, type ParsedIdentifier, type TokenPurpose } from '../../issuer/identifier.js';
import { Macaroon } from '../../macaroon/macaroon.js';
import { bool, type Command } from '../command.js';
import { pretty, readValue } from '../io.js';

const INSPECT_PURPOSE: Readonly<Record<TokenPurpose, string>> = { token: 'application token', admin: 'admin token', approver: 'approver token' };

export interface Inspection {
  readonly identifier: string;
  /** The identifier's parts when it is a Tessera identifier. */
  readonly tessera: ParsedIdentifier | null;
  readonly location: string | null;
  readonly caveats: readonly string[];
  readonly thirdPartyCaveats: readonly { readonly location: string | null; readonly identifier: string; readonly bytes: number }[];
}

/** What a token says: identifier, location, first-party conditions, third-party caveats. */
export function inspectToken(token: string): Inspection {
  const m = Macaroon.decode(token);
  const raw = m.identifier;
  let identifier: string;
  try {
    identifier = m.identifierText;
  } catch {
    identifier = `base64url:${base64url(raw)}`;
  }
  let tessera: ParsedIdentifier | null = null;
  try {
    tessera = parseIdentifier(identifier);
  } catch {
    tessera = null;
  }
  const caveats: string[] = [];
  const thirdPartyCaveats: { location: string | null; identifier: string; bytes: number }[] = [];
  for (const c of m.caveats) {
    if (c.thirdParty) thirdPartyCaveats.push({ location: c.location ?? null, identifier: base64url(c.identifier), bytes: c.identifier.length });
    else caveats.push(c.text ?? `base64url:${base64url(c.identifier)}`);
  }
  return { identifier, tessera, location: m.location ?? null, caveats, thirdPartyCaveats };
}

function describe(i: Inspection): string {
  const lines = [`identifier  ${i.identifier}`];
  if (i.tessera !== null) lines.push(`            ${INSPECT_PURPOSE[i.tessera.purpose]}, root key ${i.tessera.keyId}`);
  lines.push(`location    ${i.location ?? '(none)'}`);
  lines.push(`caveats     ${i.caveats.length === 0 ? '(none: this token is not restricted)' : ''}`.trimEnd());
  i.caveats.forEach((c, n) => lines.push(`  ${n + 1}. ${c}`));
  if (i.thirdPartyCaveats.length > 0) {
    lines.push('third-party caveats (each needs a discharge)');
    i.thirdPartyCaveats.forEach((c, n) => {
      const id = c.identifier.length > 48 ? `${c.identifier.slice(0, 48)}…` : c.identifier;
      lines.push(`  ${n + 1}. ${c.location ?? '(no location)'}  id ${id} (${c.bytes} bytes)`);
    });
  }
  return lines.join('\n');
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'decode a token and show its identifier, location and caveats, offline',
  help: `Usage: tessera inspect [<token>|-] [--json]

Decodes a token (any encoding: V2, V1, JSON, base64 of either alphabet) and shows its
identifier (with the root key id for Tessera tokens), location, caveats and third-party
caveats. Offline; the signature is never shown. The token is read from the argument, or
from stdin when it is "-" or missing.

Options:
  --json       print JSON
  -h, --help   show this help`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const result = inspectToken(await readValue(args.positionals[0], io));
    io.out(bool(args, 'json') ? pretty(result) : describe(result));
  },
};
