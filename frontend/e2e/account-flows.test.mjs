// Account pages and the admin table's other tools, in a real browser against the real backend:
// sign up; forgot password → the emailed link (development outbox) → new password → sign in;
// email verification link; the API's field errors next to the fields (422, 409); column sort;
// delete with confirmation and bulk delete.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { capture, fillSignIn, launch, signIn, withPage } from './browser.mjs';
import { ADMIN, linkFromOutbox, startStack } from './stack.mjs';

const stamp = Date.now().toString(36);
const person = { email: `signup.${stamp}@example.test`, password: 'First-pass-123', next: 'Second-pass-456' };

describe('account pages and admin tools through the real stack', () => {
  let stack;
  let browser;
  let page;

  before(async () => {
    stack = await startStack({ name: 'account' });
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  };

  it('signs up a new account, which is signed in at once', withPage(() => page, 'sign-up', async () => {
    await page.goto(`${stack.baseUrl}/login`);
    await page.getByRole('link', { name: 'Create one' }).click();
    await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor();
    // A short password: the API's 422 lands next to the password field.
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    const pw = page.getByLabel('Password');
    await page.locator('.field-error').filter({ hasText: /password/i }).waitFor();
    assert.equal(await pw.getAttribute('aria-invalid'), 'true');
    await capture(page, '12-sign-up-error');
    await pw.fill(person.password);
    await page.getByLabel('First name').fill('Sam');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('heading', { level: 2, name: 'Welcome, Sam' }).waitFor();
  }));

  it('verifies the email address from the emailed link', withPage(() => page, 'verify-email', async () => {
    // Dev mode has no SMTP, so the UI hides the "send" button; ask the API as the page would.
    const status = await page.evaluate(async () => {
      const res = await fetch('/api/auth/send-email-address-verification-email', { method: 'POST', headers: { 'X-Requested-With': 'XMLHttpRequest' } });
      return res.status;
    });
    assert.equal(status, 200);
    const link = await linkFromOutbox(stack.dataDir, '/verify-email', { to: person.email });
    assert.ok(link.startsWith(stack.baseUrl), `link ${link} points at the front`);
    await page.goto(link);
    await page.getByText('Your email address is verified.').waitFor();
    await capture(page, '13-verify-email');
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const verified = page.locator('.detail', { hasText: 'Email verified' });
    assert.match(await verified.innerText(), /Yes/);
  }));

  it('resets a forgotten password through the emailed link', withPage(() => page, 'reset-password', async () => {
    await signOut();
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    // The page is a lazy chunk: until it arrives the sign-in form (with its own Email) stays.
    await page.getByRole('heading', { level: 1, name: 'Reset your password' }).waitFor();
    await page.getByLabel('Email').fill(person.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText(/If an account exists for/).waitFor();
    const link = await linkFromOutbox(stack.dataDir, '/password-reset', { to: person.email });
    await page.goto(link);
    await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor();
    await page.getByLabel('New password', { exact: true }).fill(person.next);
    await page.getByLabel('Repeat the new password').fill(person.next);
    await capture(page, '14-reset-password');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('Your password was changed. Sign in with the new one.').waitFor();
    // The old password no longer works; the new one does.
    await fillSignIn(page, person.email, person.password);
    await page.getByText("Sorry, we don't recognize your credentials").waitFor();
    await fillSignIn(page, person.email, person.next);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    // The link is single-use.
    await signOut();
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill('Third-pass-789');
    await page.getByLabel('Repeat the new password').fill('Third-pass-789');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('link', { name: 'Request a new link' }).first().waitFor();
    assert.match(page.url(), /\/password-reset\?token=/);
  }));

  it("shows the API's field errors next to the fields of the user form", withPage(() => page, 'user-form-errors', async () => {
    await signIn(page, stack.baseUrl, ADMIN.email, ADMIN.password);
    await page.goto(`${stack.baseUrl}/users/new`);
    const email = page.getByLabel('Email (required)');
    await email.fill('not-an-email');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Please fix the highlighted fields.').waitFor();
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    const described = await email.getAttribute('aria-describedby');
    const message = await page.locator(`[id="${described.split(' ')[0]}"]`).innerText();
    assert.match(message, /email/i);
    await capture(page, '15-user-form-422');
    // An address that exists (any letter case): 409 above the form, the typed value kept.
    await email.fill(person.email.toUpperCase());
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Could not save.').waitFor();
    assert.equal(await email.inputValue(), person.email.toUpperCase());
  }));

  it('sorts by a column and deletes with confirmation, one and in bulk', withPage(() => page, 'sort-delete', async () => {
    // Three users to work on, created through the API from the page (same origin, cookies).
    const emails = ['a', 'b', 'c'].map((x) => `bulk.${x}.${stamp}@example.test`);
    const statuses = await page.evaluate(async (list) => {
      const out = [];
      for (const email of list) {
        const res = await fetch('/api/users', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
          body: JSON.stringify({ data: { email } }),
        });
        out.push(res.status);
      }
      return out;
    }, emails);
    assert.ok(statuses.every((s) => s < 300), `create statuses ${statuses}`);

    await page.goto(`${stack.baseUrl}/users?email=${encodeURIComponent(`.${stamp}@`)}`);
    await page.getByRole('link', { name: emails[0], exact: true }).waitFor();
    const emailHeader = page.getByRole('columnheader', { name: /Email/ });
    await emailHeader.getByRole('button').click();
    await page.waitForURL(/field=email&sort=asc/);
    // The URL changes a moment before React renders the new header state.
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Email' }).waitFor();
    await emailHeader.getByRole('button').click();
    await page.waitForURL(/sort=desc/);
    await page.locator('th[aria-sort="descending"]', { hasText: 'Email' }).waitFor();
    // The header changes at once, the rows when the server's answer arrives: poll for them.
    const emailsShown = () => page.locator('table tbody tr td:nth-child(2)').allInnerTexts().then((xs) => xs.map((x) => x.trim()));
    const deadline = Date.now() + 10_000;
    let shown = await emailsShown();
    while (JSON.stringify(shown) !== JSON.stringify([...shown].sort().reverse()) && Date.now() < deadline) {
      await page.waitForTimeout(100);
      shown = await emailsShown();
    }
    assert.deepEqual(shown, [...shown].sort().reverse(), 'descending by email');
    assert.equal(shown.length, 4);

    // One delete, cancelled first, then confirmed.
    await page.getByRole('button', { name: `Delete ${emails[0]}` }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    await capture(page, '16-delete-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.getByRole('link', { name: emails[0], exact: true }).count(), 1);
    await page.getByRole('button', { name: `Delete ${emails[0]}` }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText(`Deleted ${emails[0]}.`).waitFor();
    await page.getByRole('link', { name: emails[0], exact: true }).waitFor({ state: 'detached' });

    // Bulk: select the other two, delete them together.
    await page.getByRole('checkbox', { name: `Select ${emails[1]}` }).check();
    await page.getByRole('checkbox', { name: `Select ${emails[2]}` }).check();
    await page.getByText('2 selected').waitFor();
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted 2 users.').waitFor();
    // The list reloads after the flash appears.
    for (const e of emails) await page.getByRole('link', { name: e, exact: true }).waitFor({ state: 'detached' });
    // Gone on the server too (soft-deleted users are not listed).
    const left = await page.evaluate(async (q) => (await (await fetch(`/api/users?email=${encodeURIComponent(q)}`)).json()).count, `bulk.`);
    assert.equal(left, 0);
  }));
});
