/**
 * `tessera admin-token`: mint a new admin token directly on the database, for when the one
 * written at first start is lost. A local admin action, like `tessera users`: whoever can read
 * the data directory (master key) and the database can already do anything, so nothing is
 * given away. The previous admin token keeps working until it is revoked.
 */
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../../server/defaults.js';
import { MASTER_KEY_ENV, MASTER_KEY_FILE } from '../../storage/keyring.js';
import { serverLayer } from '../layers.js';
import { withLocalSystem } from '../local-system.js';
import { str, type Command } from '../command.js';
import { dataDirOf, serverUrlOf } from '../io.js';

export const adminToken: Command = {
  name: 'admin-token',
  summary: 'mint a new admin token on the local database (when the first one is lost)',
  help: `Usage: tessera admin-token [--data-dir <dir>] [--url <public url>]

Mints a new admin token (every admin operation, audience tessera-admin) directly on the
database, prints it, and saves it to <data-dir>/admin-token (mode 0600), replacing the file.
Use it when the token printed at first start is lost. It needs the master key (the data
directory's ${MASTER_KEY_FILE}, or ${MASTER_KEY_ENV}) and the database (the embedded one in the data
directory, or DATABASE_URL); on the embedded database, stop the server first, since one
process holds it. Earlier admin tokens stay valid until revoked ("tessera revoke").

Options:
  --data-dir <dir>  master key, embedded database and admin-token file
                    (default TESSERA_DATA_DIR or ./.tessera)
  --url <url>       the server's public URL, written as the token's location
                    (default TESSERA_URL or http://127.0.0.1:8470)
  -h, --help        show this help`,
  options: { 'data-dir': { type: 'string' }, url: { type: 'string' } },
  async run(args, io) {
    const dataDir = dataDirOf(str(args, 'data-dir'), io);
    const { writeAdminToken } = await serverLayer();
    const { token, identifier } = await withLocalSystem(io, dataDir, serverUrlOf(str(args, 'url'), io), (system) => system.mintAdminToken('admin (tessera admin-token)'));
    const file = join(dataDir, ADMIN_TOKEN_FILE);
    await writeAdminToken(file, token);
    io.out(token);
    io.err(`saved to ${file} (mode 0600); identifier ${identifier}. Earlier admin tokens stay valid until revoked.`);
    return 0;
  },
};
