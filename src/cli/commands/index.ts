/**
 * THE table of CLI commands. One file per command in this folder; add a command by importing
 * it and listing it here (the discharge engineer adds `discharge`, the approval-page engineer
 * `users`).
 */
import type { Command } from '../command.js';
import { adminToken } from './admin-token.js';
import { attenuate } from './attenuate.js';
import { audit } from './audit.js';
import { completion } from './completion.js';
import { discharge } from './discharge.js';
import { groups } from './groups.js';
import { inspect } from './inspect.js';
import { keys } from './keys.js';
import { mint } from './mint.js';
import { revoke } from './revoke.js';
import { serve } from './serve.js';
import { status } from './status.js';
import { tokens } from './tokens.js';
import { users } from './users.js';
import { verify } from './verify.js';
import { version } from './version.js';
import { webhooks } from './webhooks.js';

export const COMMANDS: readonly Command[] = Object.freeze([
  serve, mint, attenuate, discharge, inspect, verify, revoke, status, tokens, audit, keys, webhooks, adminToken, users, groups, version,
  completion(() => COMMANDS),
]);
