/**
 * Service base URLs (a discharger's location, a token's location): absolute http(s), with no
 * credentials, query or fragment, and no trailing slash, so one service has one spelling.
 */
import { TesseraError } from '../errors.js';

/** `value` as a normalised base URL; `make` builds the error (its caller knows whose fault it is). */
export function httpBaseUrl(value: unknown, field: string, make: (message: string) => TesseraError): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw make(`${field} is not an absolute URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw make(`${field} must be an http(s) URL without credentials, query or fragment`);
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
