/** `tool search,read_file`: an agent's `tool` call must be one of the listed tool names. */
import { TOKEN, tokenListCaveat } from './common.js';

export const tool = tokenListCaveat('tool', 'tool', TOKEN, 'tool');
