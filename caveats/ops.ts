/** `ops read,write`: the request's `operation` must be one of the listed operations. */
import { TOKEN, tokenListCaveat } from './common.js';

export const ops = tokenListCaveat('ops', 'operation', TOKEN, 'operation');
