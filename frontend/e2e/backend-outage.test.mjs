// The backend goes away under a signed-in user, through runway: `runway stop backend` makes the
// next page's request fail, and the page shows what happened with a Retry (never a blank page,
// never a sign-out); `runway start backend` and Retry bring the data back in the same session.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { capture, launch, signIn, withPage } from './browser.mjs';
import { ADMIN, startStack } from './stack.mjs';

describe('backend outage behind runway', () => {
  let stack;
  let browser;
  let page;

  before(async () => {
    stack = await startStack({ name: 'outage', front: 'runway' });
    browser = await launch();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows an error with Retry while the backend is stopped, and recovers after it starts', withPage(() => page, 'outage', async () => {
    await signIn(page, stack.baseUrl, ADMIN.email, ADMIN.password);
    const nav = page.getByRole('navigation', { name: 'Main' });

    const stopped = stack.runway('stop', 'backend');
    assert.equal(stopped.status, 0, `runway stop backend: ${stopped.stdout}${stopped.stderr}`);
    await nav.getByRole('link', { name: 'Roles' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Something went wrong' });
    await alert.waitFor({ timeout: 60_000 });
    const retry = alert.getByRole('button', { name: 'Retry' });
    await retry.waitFor();
    // Still the app, still signed in: the heading and the navigation are there.
    await page.getByRole('heading', { level: 1, name: 'Roles' }).waitFor();
    await nav.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.ok(!page.url().includes('/login'), `sent to ${page.url()}`);
    await capture(page, '17-backend-down');

    const started = stack.runway('start', 'backend');
    assert.equal(started.status, 0, `runway start backend: ${started.stdout}${started.stderr}`);
    await retry.click();
    await page.getByRole('link', { name: 'Administrator', exact: true }).waitFor({ timeout: 60_000 });
    assert.equal(await page.getByText('Something went wrong').count(), 0);
    assert.ok(!page.url().includes('/login'));
  }));
});
