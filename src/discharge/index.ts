/**
 * Third-party discharges: the bakery-compatible ticket codec, the condition language, the
 * discharge service (requests, approvals, long-polling) and its HTTP routes.
 */
export { createDischargeService, normaliseLocation } from './service.js';
export type {
  Approver,
  AskInput,
  Decision,
  DecisionChannel,
  DischargeService,
  DischargeServiceOptions,
  DischargeStatus,
  DischargerInfo,
  PendingView,
  PollResult,
  DischargeFormat,
  RequestOptions,
  RequestResult,
  RequesterInfo,
  TicketInfo,
} from './service.js';
export { dischargeRoutes } from './http.js';
export { INVITE_TTL_SECONDS, checkAccountName, createAccounts } from './accounts.js';
export type { Accounts, AccountsOptions, Actor, NewInvite, NewUser, UserView } from './accounts.js';
export { BAKERY_TOKEN_KIND, bakeryMacaroonJSON, bakeryRoutes } from './bakery.js';
export type { BakeryRoutesOptions } from './bakery.js';
export {
  MAX_PRESENTATION_SECONDS,
  MAX_REQUEST_REASON,
  PRESENTATION_SECONDS,
  checkPresentation,
  checkRequestReason,
  presentationFor,
} from '../tickets/presentation.js';
export type { PresentationVerifier, Shown, VerifiedToken } from '../tickets/presentation.js';
export { issuerPresentations } from './presentation-verifier.js';
export type { IssuerPresentationOptions } from './presentation-verifier.js';
export {
  MAX_WHAT_LENGTH,
  NAME_PATTERN,
  approveCondition,
  checkDischargeCondition,
  loginCondition,
  mayDecide,
  parseDischargeCondition,
  parsePrincipal,
  principalsOf,
} from '../tickets/conditions.js';
export type { DischargeCondition, Principal } from '../tickets/conditions.js';
export {
  CAVEAT_KEY_MAX_BYTES,
  CAVEAT_KEY_MIN_BYTES,
  TICKET_MAX_BYTES,
  decodeTicket,
  encodeTicket,
  generateDischargerKeyPair,
} from '../tickets/ticket.js';
export type { DecodedTicket, DischargerKeyPair, TicketFields, TicketVersion } from '../tickets/ticket.js';
