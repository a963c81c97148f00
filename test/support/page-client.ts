/**
 * A cookie-keeping client over hono's `app.request()`: what a browser does with the approval
 * pages (cookies, forms posted from the pages' origin, the CSRF token printed in a form).
 */
import type { Hono } from 'hono';

/** The origin the pages' forms are posted from (the CSRF origin check's). */
export const ORIGIN = 'http://localhost';

/** A browser's cookie jar and forms over `app.request()`, for the approval pages. */
export class PageClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly app: Hono, readonly headers: Record<string, string> = {}) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.headers)) if (!headers.has(k)) headers.set(k, v);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await this.app.request(path, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(path: string): Promise<Response> {
    return this.request(path);
  }

  post(path: string, fields: Record<string, string>, headers: Record<string, string> = { origin: ORIGIN }): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** The CSRF token printed in a page's forms. */
  async csrfFrom(path: string): Promise<string> {
    const page = await (await this.get(path)).text();
    const m = /name="csrf" value="([^"]+)"/.exec(page);
    if (m?.[1] === undefined) throw new Error(`no CSRF token on ${path}`);
    return m[1];
  }

  async login(name: string, password: string, next?: string): Promise<Response> {
    const csrf = await this.csrfFrom('/approve/login');
    return this.post('/approve/login', { csrf, name, password, ...(next === undefined ? {} : { next }) });
  }
}
