/**
 * Approver tokens: a macaroon minted for one approver, with which a program (a chat bot) decides
 * requests for that person through the approvals API (./approvals-api.ts). Purpose `approver`
 * (a `tsp1.` identifier, its own derived key: no application or admin token can pass as one),
 * subject `approver:<name>`, caveats `aud tessera-approvals` and `declared user <name>`, and a
 * lifetime (30 days unless asked otherwise). Kept apart from the routes so the CLI can mint one
 * without loading them.
 */
import { caveat } from '../../caveats/index.js';
import type { Issuer, MintedToken } from '../issuer/issuer.js';

/** The audience of approver tokens. */
export const APPROVER_AUDIENCE = 'tessera-approvals';
/** The audit channel of decisions made through the approvals API. */
export const APPROVALS_CHANNEL = 'approvals-api';
/** The operations of the approvals API (`ops` caveats on approver tokens may name them). */
export const APPROVAL_OPS = Object.freeze({ read: 'approvals:read', approve: 'approvals:approve', deny: 'approvals:deny' } as const);
/** An approver token's default lifetime: 30 days. */
export const APPROVER_TOKEN_TTL_SECONDS = 30 * 86_400;
/** The subject an approver token is recorded with: this, then the user name. */
export const APPROVER_SUBJECT_PREFIX = 'approver:';

/** The caveats every approver token starts with. */
export const approverCaveats = (name: string): readonly string[] => Object.freeze([`aud ${APPROVER_AUDIENCE}`, caveat.declared('user', name)]);

/** Mint an approver token for `name` (who must exist: the caller checks). */
export function mintApproverToken(issuer: Issuer, input: { readonly name: string; readonly ttlSeconds?: number; readonly actor: string }): Promise<MintedToken> {
  return issuer.mint({
    purpose: 'approver',
    caveats: approverCaveats(input.name),
    subject: `${APPROVER_SUBJECT_PREFIX}${input.name}`,
    label: `approver token for ${input.name}`,
    ttlSeconds: input.ttlSeconds ?? APPROVER_TOKEN_TTL_SECONDS,
    actor: input.actor,
  });
}
