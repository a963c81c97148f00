/**
 * The approval pages' only script, served from /approve/passkey.js (same origin, so the pages'
 * content security policy admits it; nothing inline). It drives the WebAuthn ceremonies of the
 * buttons marked `data-passkey` with the browser's own JSON helpers
 * (`PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`,
 * `credential.toJSON()`), so no WebAuthn library runs in the browser:
 *
 *   1. POST `data-options` with `{ csrf }`            → `{ options }` (a fresh challenge)
 *   2. navigator.credentials.create / get(options)
 *   3. POST `data-verify` with `{ csrf, next, credential }` → `{ next }`, then go there.
 *
 * Both POSTs are `application/json` (a cross-site page cannot send that without a CORS
 * preflight, which nothing here answers) and carry the page's CSRF token. Errors are shown as
 * text in the element `#passkey-status` (textContent only: the policy also requires Trusted
 * Types, so no HTML is ever written). Buttons stay hidden where the browser lacks passkeys.
 */
export const PASSKEY_SCRIPT = `'use strict';
(() => {
  const status = document.getElementById('passkey-status');
  const say = (text) => { if (status !== null) status.textContent = text; };
  const supported = typeof PublicKeyCredential === 'function' &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function' &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';

  async function post(url, body) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const error = data && data.error ? data.error : {};
      throw new Error(typeof error.message === 'string' ? error.message + ' (' + error.code + ')' : 'The server answered ' + res.status + '.');
    }
    return data;
  }

  async function ceremony(button) {
    const { passkey, options: optionsUrl, verify, csrf, next } = button.dataset;
    const { options } = await post(optionsUrl, { csrf });
    const credential = passkey === 'register'
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
    if (credential === null) throw new Error('No passkey was chosen.');
    const result = await post(verify, { csrf, next, credential: credential.toJSON() });
    location.assign(result.next);
  }

  for (const button of document.querySelectorAll('button[data-passkey]')) {
    if (!supported) {
      say('This browser cannot use passkeys here.');
      continue;
    }
    button.hidden = false;
    button.addEventListener('click', () => {
      button.disabled = true;
      say('');
      ceremony(button).catch((e) => {
        say(e && e.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : String(e && e.message ? e.message : e));
        button.disabled = false;
      });
    });
  }
})();
`;
