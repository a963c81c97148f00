/**
 * `method GET,POST`: the request's HTTP `method` must be one of the listed methods. Methods are
 * upper-case and matched exactly (HTTP methods are case-sensitive; `GET` does not imply `HEAD`).
 */
import { tokenListCaveat } from './common.js';

export const method = tokenListCaveat('method', 'method', /^[A-Z][A-Z-]{0,31}$/, 'method');
