/**
 * What the approval pages need from the discharge service: the calls of its approver
 * API. The pages depend on this slice only, so the real service and a test double both fit;
 * the types themselves are the service's, not copies.
 */
import type { DischargeService } from '../service.js';

export type { Approver } from '../../tickets/conditions.js';
export type { Decision, PendingView } from '../service.js';

/** The approver-facing half of the discharge service. */
export type ApprovalService = Pick<DischargeService, 'listPending' | 'history' | 'activity' | 'get' | 'decide' | 'withdraw'>;
