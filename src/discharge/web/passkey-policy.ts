/**
 * Who must use a passkey: the one rule, shared by the approval pages and by the approvals API's
 * approver tokens, so that they cannot disagree.
 *
 * A user is passkey-only when their own `requirePasskey` is set (`tessera users add …
 * --require-passkey`) or when one of their groups is passkey-only (`tessera groups
 * require-passkey <group>`). Approving a request needs a passkey sign-in when the approver is
 * passkey-only, or when the request is addressed to a passkey-only group or user. Anything that
 * cannot be read or parsed counts as "passkey required" (fails closed).
 *
 * An approver token (no passkey behind it) decides such a request only where the group that
 * requires the passkey allows it explicitly (`tessera groups allow-approver-tokens <group>`);
 * a user who is passkey-only by their own setting never decides by token.
 */
import { parsePrincipal } from '../../tickets/conditions.js';
import type { Store, User } from '../../storage/index.js';

export type PasskeyPolicyStore = Pick<Store, 'users' | 'passkeys'>;

const passkeyOnly = (user: Pick<User, 'requirePasskey' | 'groups'>, groups: readonly string[]): boolean =>
  user.requirePasskey || user.groups.some((g) => groups.includes(g));

/** True when `user` must sign in and approve with a passkey. */
export async function userRequiresPasskey(store: PasskeyPolicyStore, user: Pick<User, 'requirePasskey' | 'groups'>): Promise<boolean> {
  return user.requirePasskey || passkeyOnly(user, await store.passkeys.passkeyGroups());
}

/**
 * True when `approverName` may approve a request addressed to `who` (a user name or
 * `group:<name>`) only from a passkey sign-in. Call it wherever a decision is made.
 */
export async function requiresPasskey(store: PasskeyPolicyStore, approverName: string, who: string, options: { readonly approverToken?: boolean } = {}): Promise<boolean> {
  const approver = await store.users.get(approverName);
  if (approver === undefined) return true;
  const allowing = options.approverToken === true ? new Set(await store.passkeys.approverTokenGroups()) : new Set<string>();
  const groups = (await store.passkeys.passkeyGroups()).filter((g) => !allowing.has(g));
  if (passkeyOnly(approver, groups)) return true;
  let principal;
  try {
    principal = parsePrincipal(who);
  } catch {
    return true;
  }
  if (principal.kind === 'group') return groups.includes(principal.name);
  const addressee = principal.name === approver.name ? approver : await store.users.get(principal.name);
  return addressee === undefined || passkeyOnly(addressee, groups);
}
