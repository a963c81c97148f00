/**
 * What every HTML page the system serves shares (the approval pages, the front door): security
 * headers with a content security policy that allows no inline script or style and no framing
 * (and no script at all unless a page set asks for its own same-origin scripts), and the
 * content negotiation that answers programs with JSON instead.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

const CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
};

/**
 * With same-origin scripts (the approval pages' passkey script): scripts and fetches only from
 * this origin, never inline or eval, and Trusted Types required so no script can write HTML.
 */
const CSP_WITH_SCRIPTS = {
  ...CSP,
  scriptSrc: ["'self'"],
  connectSrc: ["'self'"],
  requireTrustedTypesFor: ["'script'"],
  trustedTypes: ["'none'"],
};

/**
 * The pages' security headers; `hsts` when the system is reached over https, `scripts` to allow
 * the pages' own same-origin script files (default: no script at all).
 */
export function pageSecurityHeaders(options: { readonly hsts: boolean; readonly scripts?: boolean }): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: options.scripts === true ? CSP_WITH_SCRIPTS : CSP,
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    crossOriginResourcePolicy: 'same-origin',
    crossOriginOpenerPolicy: 'same-origin',
    strictTransportSecurity: options.hsts ? 'max-age=31536000; includeSubDomains' : false,
  });
}

/** A program asking for JSON (and not a browser, which lists text/html). */
export const wantsJson = (c: Context): boolean => {
  const accept = c.req.header('accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
};
