/**
 * The approval pages of the discharge service: sign-in, pending requests, approve / deny,
 * history (server-rendered hono; JavaScript only for passkeys), with approver passwords, passkeys
 * and browser sessions.
 * `approvalPages(options)` is a hono app to mount at `/approve`.
 */
export { approvalPages, safeNext } from './pages.js';
export type { ApprovalPagesOptions, PagesStore } from './pages.js';
export { requiresPasskey, userRequiresPasskey } from './passkey-policy.js';
export type { PasskeyPolicyStore } from './passkey-policy.js';
export { describeCaveat, formatTime } from './describe.js';
export {
  DEFAULT_SCRYPT,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  checkNewPassword,
  checkScryptParams,
  hashPassword,
  isPasswordHash,
  verifyPassword,
} from './passwords.js';
export type { ScryptParams } from './passwords.js';
export { LOGIN_CSRF_COOKIE, SESSION_COOKIE } from './session.js';
export type { WindowLimit } from '../../http/rate-limit.js';
export type { ApprovalService, Approver, Decision, PendingView } from './types.js';
