// With an access token that lives 2 seconds, a signed-in user keeps working: the client
// refreshes behind the scenes (once, even when several requests meet the expiry together)
// and never shows the sign-in page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launch, signIn, withPage } from './browser.mjs';
import { ADMIN, startStack } from './stack.mjs';

const TTL_MS = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('session refresh with a short access-token lifetime', () => {
  let stack;
  let browser;
  let page;
  const refreshes = [];
  const unauthorized = [];

  before(async () => {
    stack = await startStack({ name: 'refresh', accessTtlMs: TTL_MS });
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (url.pathname === '/api/auth/refresh') refreshes.push(res.status());
      else if (res.status() === 401 && url.pathname.startsWith('/api/')) unauthorized.push(url.pathname);
    });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('keeps the user signed in across expiries, refreshing once per expiry', withPage(() => page, 'refresh', async () => {
    await signIn(page, stack.baseUrl, ADMIN.email, ADMIN.password);
    // Opening /login without a session tries one silent refresh (a valid refresh cookie would
    // restore the session); count from the signed-in state on.
    refreshes.length = 0;
    unauthorized.length = 0;

    // Expired: navigating to Users makes one request, which is refreshed and retried.
    await sleep(TTL_MS + 800);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.locator('table tbody tr').first().waitFor();
    assert.deepEqual(refreshes, [200]);

    // Expired again: the dashboard fires /users/count and /roles/count together; both meet a
    // 401, and they share one refresh.
    await sleep(TTL_MS + 800);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('link', { name: /users, open the list/ }).waitFor();
    await page.getByRole('link', { name: /roles, open the list/ }).waitFor();
    assert.deepEqual(refreshes, [200, 200], 'one refresh for the concurrent 401s');

    // Expired again, and a write: the profile update is refreshed and retried too.
    await sleep(TTL_MS + 800);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }).click();
    await page.getByLabel('Phone number').fill('+1 555 0100');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Profile saved.').waitFor();
    assert.ok(refreshes.length >= 3 && refreshes.every((s) => s === 200), `refreshes: ${refreshes}`);

    // A full reload after expiry: /me is refreshed too, the user stays on the page.
    await sleep(TTL_MS + 800);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
    assert.equal(await page.getByLabel('Phone number').inputValue(), '+1 555 0100');
    assert.ok(!page.url().includes('/login'));
    assert.equal(await page.getByText('Your session has ended').count(), 0);
    assert.ok(unauthorized.length > 0, 'the access token really expired (some request met a 401)');
  }));
});
