/** `tessera serve`: run the whole system (issuer API, discharge service, approval pages). */
import { DEFAULT_PORT } from '../../server/defaults.js';
import { serverLayer } from '../layers.js';
import { str, type Command } from '../command.js';
import { UsageError, dataDirOf } from '../io.js';
import { jsonLine, jsonLogger, type LogFields, type LogOption } from '../../log.js';

function portOf(text: string | undefined, from: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`${from} must be a port number from 0 to 65535`);
  return Number(text);
}

function proxiesOf(text: string | undefined, from: string): number | undefined {
  if (text === undefined || text === '' || text === '0') return undefined;
  if (!/^[1-9]$/.test(text)) throw new UsageError(`${from} must be a number of proxies from 0 to 9`);
  return Number(text);
}

export const serve: Command = {
  name: 'serve',
  summary: 'run the Tessera server (embedded database by default)',
  help: `Usage: tessera serve [--port <n>] [--host <addr>] [--data-dir <dir>] [--log-format text|json] [--trusted-proxies <n>]

Runs the whole system on one port: the issuer API (/v1/...), the discharge service and the
approval pages (/approve/); its URL answers a person with a page of links and a program
(Accept: application/json) with an index of the endpoints. The database is the embedded one in <data-dir> unless DATABASE_URL names a
PostgreSQL server. On first start (empty database) it mints an admin token, prints it once and
saves it to <data-dir>/admin-token (mode 0600) where the other commands find it. Ctrl-C stops
it cleanly.

Options:
  --port <n>        port to listen on (default PORT or ${DEFAULT_PORT}; 0 picks a free one)
  --host <addr>     interface to listen on (default 127.0.0.1)
  --data-dir <dir>  embedded database, master key and admin token (default TESSERA_DATA_DIR or ./.tessera)
  --log-format <f>  text (default) or json: every event one JSON object a line on stdout
                    ({"time","level","msg",…}); never a secret, so a first-start admin token
                    is not printed: read it from <data-dir>/admin-token
  --trusted-proxies <n>
                    behind n proxies (a load balancer: 1), the client address is the nth
                    X-Forwarded-For entry from the right (default TESSERA_TRUSTED_PROXIES or
                    none: the TCP peer); sign-in lockouts and client-ip caveats use it
  -h, --help        show this help

Environment:
  DATABASE_URL        use this PostgreSQL database instead of the embedded one
  TESSERA_MASTER_KEY  32-byte key (hex or base64) sealing root keys at rest; default
                      <data-dir>/master.key (created on first start). Every server sharing
                      one PostgreSQL database needs the same master key.
  TESSERA_PUBLIC_URL  the URL clients use, written into tokens (default http://<host>:<port>)`,
  options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, 'log-format': { type: 'string' }, 'trusted-proxies': { type: 'string' } },
  async run(args, io) {
    const port = portOf(str(args, 'port'), '--port') ?? portOf(io.env.PORT, 'PORT');
    const format = str(args, 'log-format') ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--log-format must be text or json');
    const proxies = proxiesOf(str(args, 'trusted-proxies'), '--trusted-proxies') ?? proxiesOf(io.env.TESSERA_TRUSTED_PROXIES, 'TESSERA_TRUSTED_PROXIES');
    // Text: startup lines on stdout, the system's log lines on stderr. JSON: every event on stdout.
    const say = format === 'json' ? (msg: string, fields?: LogFields) => io.out(jsonLine('info', msg, fields)) : (msg: string) => io.out(`tessera: ${msg}`);
    const log: LogOption = format === 'json' ? jsonLogger(io.out) : (line) => io.err(line);
    const databaseUrl = io.env.DATABASE_URL !== undefined && io.env.DATABASE_URL !== '' ? io.env.DATABASE_URL : undefined;
    const dataDir = dataDirOf(str(args, 'data-dir'), io);
    const publicUrl = io.env.TESSERA_PUBLIC_URL !== undefined && io.env.TESSERA_PUBLIC_URL !== '' ? io.env.TESSERA_PUBLIC_URL : undefined;
    const { startServer } = await serverLayer();
    const server = await startServer({
      ...(port !== undefined ? { port } : {}),
      ...(str(args, 'host') !== undefined ? { host: str(args, 'host') } : {}),
      dataDir,
      databaseUrl,
      ...(publicUrl !== undefined ? { publicUrl } : {}),
      ...(proxies !== undefined ? { clientIp: { from: 'x-forwarded-for', trustedProxies: proxies } as const } : {}),
      log,
    });
    // Never print DATABASE_URL: it may hold a password.
    const database = databaseUrl !== undefined ? 'PostgreSQL from DATABASE_URL' : `embedded database in ${server.dataDir}`;
    say(`listening on ${server.url} (${database})`, { url: server.url, database: databaseUrl !== undefined ? 'postgres' : 'pglite' });
    if (server.adminToken === undefined) say(`admin token: ${server.adminTokenFile}`, { adminTokenFile: server.adminTokenFile });
    else if (format === 'json') say('first start: admin token minted (not logged: read it from the file)', { adminTokenFile: server.adminTokenFile });
    else {
      say(`first start: admin token (shown once; saved to ${server.adminTokenFile}, mode 0600):`);
      io.out(server.adminToken);
    }
    // Where a person goes: the public URL when one is set (behind a proxy), else where it listens.
    const pages = `${(publicUrl ?? server.url).replace(/\/+$/, '')}/approve/`;
    say(`approval pages: ${pages} (accounts: tessera users add <name> --group <group>)`, { approvalPages: pages });
    // Listen for the signals before saying so: a SIGTERM sent as soon as the line is read
    // (a supervisor, a test) must stop the server cleanly, not kill it by default.
    const stopping = io.stopSignal();
    if (format === 'text') say('Ctrl-C to stop');
    const signal = await stopping;
    say(`${signal}: stopping`, { signal });
    await server.close();
    say('stopped');
  },
};
