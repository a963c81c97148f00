/**
 * The storage and server layers, loaded only by the commands that need a database (`serve`,
 * `users`, `groups`, `admin-token`): the drivers are optional peer dependencies, so `tessera --help`,
 * `attenuate`, `inspect`, `discharge` and the server commands work without them, and a command
 * that needs one says which package to install.
 */
import { loadOptionalPackage } from '../util/optional-package.js';

const PURPOSE = 'this command works on the database and';

export const storageLayer = (): Promise<typeof import('../storage/index.js')> =>
  loadOptionalPackage('drizzle-orm', PURPOSE, () => import('../storage/index.js'));

export const serverLayer = (): Promise<typeof import('../server/server.js')> =>
  loadOptionalPackage('drizzle-orm', PURPOSE, () => import('../server/server.js'));

export const systemLayer = (): Promise<typeof import('../server/system.js')> =>
  loadOptionalPackage('drizzle-orm', PURPOSE, () => import('../server/system.js'));
