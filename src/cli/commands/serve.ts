/** `tessera serve`: run the whole system (issuer API, discharge service, approval pages). */
import { DEFAULT_PORT } from '../../server/defaults.js';
import { serverLayer } from '../layers.js';
import { str, type Command } from '../command.js';
import { UsageError, dataDirOf } from '../io.js';

function portOf(text: string | undefined, from: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`${from} must be a port number from 0 to 65535`);
  return Number(text);
}

export const serve: Command = {
  name: 'serve',
  summary: 'run the Tessera server (embedded database by default)',
  help: `Usage: tessera serve [--port <n>] [--host <addr>] [--data-dir <dir>]

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
  -h, --help        show this help

Environment:
  DATABASE_URL        use this PostgreSQL database instead of the embedded one
  TESSERA_MASTER_KEY  32-byte key (hex or base64) sealing root keys at rest; default
                      <data-dir>/master.key (created on first start). Every server sharing
                      one PostgreSQL database needs the same master key.
  TESSERA_PUBLIC_URL  the URL clients use, written into tokens (default http://<host>:<port>)`,
  options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } },
  async run(args, io) {
    const port = portOf(str(args, 'port'), '--port') ?? portOf(io.env.PORT, 'PORT');
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
      log: (line) => io.err(line),
    });
    // Never print DATABASE_URL: it may hold a password.
    io.out(`tessera: listening on ${server.url} (${databaseUrl !== undefined ? 'PostgreSQL from DATABASE_URL' : `embedded database in ${server.dataDir}`})`);
    if (server.adminToken !== undefined) {
      io.out(`tessera: first start: admin token (shown once; saved to ${server.adminTokenFile}, mode 0600):`);
      io.out(server.adminToken);
    } else {
      io.out(`tessera: admin token: ${server.adminTokenFile}`);
    }
    // Where a person goes: the public URL when one is set (behind a proxy), else where it listens.
    io.out(`tessera: approval pages: ${(publicUrl ?? server.url).replace(/\/+$/, '')}/approve/ (accounts: tessera users add <name> --group <group>)`);
    // Listen for the signals before saying so: a SIGTERM sent as soon as the line is read
    // (a supervisor, a test) must stop the server cleanly, not kill it by default.
    const stopping = io.stopSignal();
    io.out('tessera: Ctrl-C to stop');
    const signal = await stopping;
    io.out(`tessera: ${signal}: stopping`);
    await server.close();
    io.out('tessera: stopped');
  },
};
