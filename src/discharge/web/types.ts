/**
 * What the approval pages need from the discharge service: the four calls of its approver API
 * (see notes/SERVICES.md). The pages depend on this shape only, so the real service and a test
 * double both fit.
 */
import type { DischargeStatus, RequesterInfo } from '../../storage/index.js';

/** The signed-in person, as the discharge service judges who may decide. */
export interface Approver {
  readonly name: string;
  readonly groups: readonly string[];
}

/** One discharge request as an approver sees it. */
export interface PendingView {
  readonly id: string;
  /** The third-party condition text, e.g. `approve group:ops deploy`. */
  readonly condition: string;
  /** The person or group the request is addressed to. */
  readonly who: string;
  /** What is asked, in words. */
  readonly what: string;
  /** Who asks (whatever the requester told the service about itself). */
  readonly requester: RequesterInfo;
  /**
   * The requesting token's other first-party caveats, as condition text, AS THE REQUESTER
   * STATES THEM: the service never sees the token, so the pages show them as a claim.
   */
  readonly otherCaveats: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly status: DischargeStatus;
  /** How long the discharge will be valid if approved without a shorter choice. */
  readonly validitySeconds?: number | undefined;
  readonly decidedBy?: string | undefined;
  readonly decidedAt?: Date | undefined;
  readonly reason?: string | undefined;
}

export type Decision =
  | { readonly approve: true; readonly validitySeconds?: number }
  | { readonly approve: false; readonly reason: string };

/** The approver-facing half of the discharge service. */
export interface ApprovalService {
  /** Pending requests this approver may decide. */
  listPending(approver: Approver): Promise<readonly PendingView[]>;
  /** Requests this approver may see that were decided (newest first). */
  history(approver: Approver, limit?: number): Promise<readonly PendingView[]>;
  /** One request, or undefined if unknown (or not this approver's to see). */
  get(id: string, approver: Approver): Promise<PendingView | undefined>;
  /** ERR_FORBIDDEN if the approver may not decide it; ERR_CONFLICT if already decided. */
  decide(id: string, approver: Approver, decision: Decision): Promise<PendingView>;
}
