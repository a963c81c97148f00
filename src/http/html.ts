/**
 * What every HTML page the system serves shares (the approval pages, the front door): security
 * headers with a content security policy that allows no script at all, no inline style and no
 * framing, and the content negotiation that answers programs with JSON instead.
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

/** The pages' security headers; `hsts` when the system is reached over https. */
export function pageSecurityHeaders(options: { readonly hsts: boolean }): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: CSP,
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
