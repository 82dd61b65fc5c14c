// "Continue with Google" in a real browser, end to end: the sign-in page's link → the backend's
// /api/auth/signin/google (PKCE challenge, state cookie) → the provider's consent page → the
// backend's callback (code exchanged with the verifier, userinfo read) → the app, signed in, with
// no token or code left in the address bar; and a consent refused at the provider comes back as
// a readable message. The provider is a local fake speaking the real protocol (authorization
// code + PKCE S256, token endpoint with client secret, Bearer userinfo): Google itself cannot be
// reached from here.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { capture, launch, withPage } from './browser.mjs';
import { freePort, startStack } from './stack.mjs';

const CLIENT_ID = 'e2e-client-id.apps.example';
const CLIENT_SECRET = 'e2e-client-secret-4b1d';
const stamp = Date.now().toString(36);
const person = { sub: `g-${stamp}`, email: `oauth.${stamp}@example.test`, given: 'Grace', family: 'Hopper' };

/** The fake provider: /authorize shows a consent page, /token checks PKCE, /userinfo the token. */
async function fakeProvider() {
  const codes = new Map(); // code → { challenge, redirectUri }
  const tokens = new Set();
  const seen = { tokenRequests: 0, authorize: [] };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://provider');
    const send = (status, body, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = Object.fromEntries(url.searchParams);
      seen.authorize.push(q);
      if (q.client_id !== CLIENT_ID || q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !q.state) {
        return send(400, { error: 'invalid_request' });
      }
      const code = `code-${randomUUID()}`;
      codes.set(code, { challenge: q.code_challenge, redirectUri: q.redirect_uri });
      const back = (params) => {
        const u = new URL(q.redirect_uri);
        for (const [k, v] of Object.entries({ ...params, state: q.state })) u.searchParams.set(k, v);
        return u.toString().replaceAll('&', '&amp;');
      };
      return send(
        200,
        `<!doctype html><title>Fake Google</title><h1>Sign in to the e2e app?</h1>
         <a href="${back({ code })}">Allow</a> <a href="${back({ error: 'access_denied' })}">Deny</a>`,
        'text/html',
      );
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      seen.tokenRequests += 1;
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const f = Object.fromEntries(new URLSearchParams(raw));
      if (f.client_id !== CLIENT_ID || f.client_secret !== CLIENT_SECRET) return send(401, { error: 'invalid_client' });
      const grant = codes.get(f.code);
      codes.delete(f.code); // single use
      const computed = createHash('sha256').update(f.code_verifier ?? '').digest('base64url');
      if (f.grant_type !== 'authorization_code' || !grant || grant.redirectUri !== f.redirect_uri || computed !== grant.challenge) {
        return send(400, { error: 'invalid_grant' });
      }
      const token = `at-${randomUUID()}`;
      tokens.add(token);
      return send(200, { access_token: token, token_type: 'Bearer', expires_in: 3599, scope: 'openid email profile' });
    }
    if (req.method === 'GET' && url.pathname === '/userinfo') {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!tokens.has(token)) return send(401, { error: 'invalid_token' });
      return send(200, {
        sub: person.sub,
        email: person.email,
        email_verified: true,
        given_name: person.given,
        family_name: person.family,
        name: `${person.given} ${person.family}`,
      });
    }
    send(404, { error: 'not_found' });
  });
  const port = await freePort();
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { base: `http://127.0.0.1:${port}`, seen, close: () => new Promise((ok) => server.close(ok)) };
}

describe('OAuth sign-in (Google) through the real stack', () => {
  let provider;
  let stack;
  let browser;
  let context;
  let page;

  before(async () => {
    provider = await fakeProvider();
    stack = await startStack({
      name: 'oauth',
      extraEnv: {
        GOOGLE_CLIENT_ID: CLIENT_ID,
        GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
        GOOGLE_AUTH_URL: `${provider.base}/authorize`,
        GOOGLE_TOKEN_URL: `${provider.base}/token`,
        GOOGLE_USERINFO_URL: `${provider.base}/userinfo`,
      },
    });
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await provider?.close();
  });

  it('a refused consent comes back to the sign-in page with a message', withPage(() => page, 'oauth-denied', async () => {
    await page.goto(`${stack.baseUrl}/login`);
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await page.getByRole('heading', { name: 'Sign in to the e2e app?' }).waitFor();
    await page.getByRole('link', { name: 'Deny' }).click();
    await page.getByText('Sign-in was cancelled at the provider.').waitFor();
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(provider.seen.tokenRequests, 0, 'no code, no token request');
  }));

  it('first sign-in creates the account and lands signed in, with no secret in the URL', withPage(() => page, 'oauth-signin', async () => {
    await page.goto(`${stack.baseUrl}/login`);
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await page.getByRole('heading', { name: 'Sign in to the e2e app?' }).waitFor();
    const authorize = provider.seen.authorize.at(-1);
    assert.equal(authorize.redirect_uri, `${stack.baseUrl}/api/auth/signin/google/callback`);
    assert.equal(authorize.code_challenge.length, 43, 'S256 challenge of a 32-byte verifier');
    await page.getByRole('link', { name: 'Allow' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('heading', { level: 2, name: `Welcome, ${person.given}` }).waitFor();
    await capture(page, '30-oauth-signed-in');

    const landed = new URL(page.url());
    assert.equal(landed.origin, stack.baseUrl);
    assert.doesNotMatch(landed.search + landed.hash, /code=|token=|state=/, `no secret in ${page.url()}`);
    assert.equal(provider.seen.tokenRequests, 1);

    // The session is the usual cookie pair, HttpOnly, and /me knows the new account.
    // (The refresh cookie is scoped to /api/auth, so ask for every cookie of the context.)
    const cookies = await context.cookies();
    assert.ok(cookies.length >= 2, JSON.stringify(cookies.map((c) => c.name)));
    for (const c of cookies) assert.ok(c.httpOnly, `${c.name} is HttpOnly: ${JSON.stringify(cookies)}`);
    const me = await page.evaluate(async () => (await fetch('/api/auth/me')).json());
    assert.equal(me.email, person.email);
    assert.equal(me.firstName, person.given);
    assert.equal(me.role.name, 'User');

    // Signing out and in again with the same provider account finds the same user.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await page.getByRole('link', { name: 'Allow' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const again = await page.evaluate(async () => (await fetch('/api/auth/me')).json());
    assert.equal(again.id, me.id);
  }));
});
