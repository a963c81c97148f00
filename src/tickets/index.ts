/**
 * The third-party caveat protocol every party shares: the bakery-compatible ticket codec, the
 * NaCl box it seals with, and the condition language of Tessera's discharger. Portable: the
 * client seals tickets with it, the discharge service opens them.
 */
export { BOX_KEY_BYTES, BOX_NONCE_BYTES, BOX_OVERHEAD, box, boxBeforenm, boxOpen } from './box.js';
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
} from './conditions.js';
export type { DischargeCondition, Principal } from './conditions.js';
export {
  CAVEAT_KEY_MAX_BYTES,
  CAVEAT_KEY_MIN_BYTES,
  TICKET_MAX_BYTES,
  decodeTicket,
  encodeTicket,
  generateDischargerKeyPair,
} from './ticket.js';
export type { DecodedTicket, DischargerKeyPair, TicketFields, TicketVersion } from './ticket.js';
