/** Optional peer dependencies (the database drivers, drizzle): loaded when used, with a clear error when missing. */
import { TesseraError } from '../errors.js';

/**
 * Import an optional peer dependency, or throw ERR_CONFIG saying which package `purpose` needs.
 * Only a missing `pkg` itself is translated; any other failure while loading it is rethrown.
 */
export async function loadOptionalPackage<T>(pkg: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${pkg}'`);
    if (!missing) throw e;
    throw new TesseraError('ERR_CONFIG', `${purpose} needs the package ${pkg}, which is not installed: npm install ${pkg}`, { package: pkg });
  }
}
