/**
 * The admin API for approver accounts, so that `tessera users` works while the server runs:
 *
 *   GET  /v1/users                          list users and their groups        op users:read
 *   POST /v1/users                          add { name, groups, password }     op users:write
 *   POST /v1/users/:name/password           new password { password }; ends the user's sessions
 *   POST /v1/users/:name/remove             remove the user (and their sessions)
 *   POST /v1/users/:name/approver-token     mint an approver token { ttl? } (see
 *                                           src/discharge/approvals-api.ts)
 *   POST /v1/invites                        a one-time enrolment link { name, groups }, 24 h
 *   GET  /v1/groups                         the groups: members and settings   op users:read
 *   POST /v1/groups/:name/:setting          require-passkey, allow-password, allow-approver-tokens
 *                                           or refuse-approver-tokens          op users:write
 *
 * Passwords travel only in request bodies (never in a URL), are hashed by the server and never
 * answered, logged or audited. The approver token and the invitation link are shown once, in
 * the answer. Each change is audited with the admin token's identifier as its actor.
 */
import { Hono } from 'hono';
import { MAX_PASSWORD_LENGTH } from '../discharge/web/passwords.js';
import { mintApproverToken } from '../discharge/approver-tokens.js';
import { checkAccountName, inviteUrl, type Accounts, type GroupSetting, type UserView } from '../discharge/accounts.js';
import { TesseraError } from '../errors.js';
import type { ClientIpSource } from '../hono/index.js';
import { booleanField, durationField, readJsonObject, stringArrayField, stringField } from '../http/body.js';
import type { Verifier } from '../verifier/index.js';
import { TTL_BOUNDS, type Issuer } from './issuer.js';
import { ADMIN_OPS, actorOf, adminGuards, mintedJson } from './routes.js';

export interface UsersRoutesOptions {
  readonly accounts: Accounts;
  readonly issuer: Issuer;
  /** Verifies admin tokens (purpose 'admin', audience ADMIN_AUDIENCE). */
  readonly adminVerifier: Verifier;
  /** The system's public URL: invitation links point there. */
  readonly publicUrl: string;
  readonly clientIp?: ClientIpSource;
}

const MAX_BODY = 16 * 1024;
const MAX_GROUPS = 100;
const MAX_NAME = 64;

const userJson = (u: UserView) => ({ name: u.name, groups: u.groups, createdAt: u.createdAt.toISOString() });

export function usersRoutes(options: UsersRoutesOptions): Hono {
  const { accounts, issuer } = options;
  const { auth, sized } = adminGuards(options);
  const app = new Hono();
  const nameParam = (value: string | undefined): string => checkAccountName('user', value);
  const by = (c: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(c) });

  app.get('/v1/users', auth(ADMIN_OPS.usersRead), async (c) => {
    c.header('cache-control', 'no-store');
    return c.json({ users: (await accounts.list()).map(userJson) });
  });

  app.post('/v1/users', auth(ADMIN_OPS.usersWrite), sized(MAX_BODY), async (c) => {
    const body = await readJsonObject(c, ['name', 'groups', 'password', 'requirePasskey']);
    const user = await accounts.add(
      {
        name: stringField(body, 'name', { max: MAX_NAME }),
        groups: stringArrayField(body, 'groups', MAX_GROUPS, MAX_NAME),
        password: stringField(body, 'password', { max: MAX_PASSWORD_LENGTH }),
        requirePasskey: booleanField(body, 'requirePasskey') ?? false,
      },
      by(c),
    );
    return c.json(userJson(user), 201);
  });

  app.post('/v1/users/:name/password', auth(ADMIN_OPS.usersWrite), sized(MAX_BODY), async (c) => {
    const name = nameParam(c.req.param('name'));
    const body = await readJsonObject(c, ['password']);
    const { sessionsEnded } = await accounts.setPassword(name, stringField(body, 'password', { max: MAX_PASSWORD_LENGTH }), by(c));
    return c.json({ name, sessionsEnded });
  });

  app.post('/v1/users/:name/remove', auth(ADMIN_OPS.usersWrite), sized(MAX_BODY), async (c) => {
    const name = nameParam(c.req.param('name'));
    await readJsonObject(c, [], { emptyOk: true });
    await accounts.remove(name, by(c));
    return c.json({ name, removed: true });
  });

  app.post('/v1/users/:name/approver-token', auth(ADMIN_OPS.usersWrite), sized(MAX_BODY), async (c) => {
    const name = nameParam(c.req.param('name'));
    const body = await readJsonObject(c, ['ttl'], { emptyOk: true });
    const ttlSeconds = durationField(body, 'ttl', TTL_BOUNDS);
    if ((await accounts.get(name)) === undefined) throw new TesseraError('ERR_NOT_FOUND', `there is no user ${name}`, { field: 'name' });
    const minted = await mintApproverToken(issuer, { name, actor: actorOf(c), ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) });
    c.header('cache-control', 'no-store');
    return c.json(mintedJson(minted), 201);
  });

  app.post('/v1/invites', auth(ADMIN_OPS.usersWrite), sized(MAX_BODY), async (c) => {
    const body = await readJsonObject(c, ['name', 'groups']);
    const invite = await accounts.invite({ name: stringField(body, 'name', { max: MAX_NAME }), groups: stringArrayField(body, 'groups', MAX_GROUPS, MAX_NAME) }, by(c));
    c.header('cache-control', 'no-store');
    return c.json({ url: inviteUrl(options.publicUrl, invite.token), name: invite.name, groups: invite.groups, expiresAt: invite.expiresAt.toISOString() }, 201);
  });

  app.get('/v1/groups', auth(ADMIN_OPS.usersRead), async (c) => {
    c.header('cache-control', 'no-store');
    return c.json({ groups: await accounts.groups() });
  });

  app.post('/v1/groups/:name/:setting', auth(ADMIN_OPS.usersWrite), sized(MAX_BODY), async (c) => {
    const name = checkAccountName('group', c.req.param('name'));
    const setting = c.req.param('setting') as GroupSetting; // checked by setGroup: ERR_INVALID_ARGUMENT
    await readJsonObject(c, [], { emptyOk: true });
    const changed = await accounts.setGroup(name, setting, by(c));
    return c.json({ name, setting, changed });
  });

  return app;
}
