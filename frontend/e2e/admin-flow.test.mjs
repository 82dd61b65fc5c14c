// The admin journey in a real browser against the real backend: sign in as the seeded admin,
// create a user, find it with a filter, edit it, export CSV, sign out, sign in as the new user
// and see no admin pages. Screenshots of each main page go to e2e/screenshots/.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { capture, fillSignIn, launch, withPage } from './browser.mjs';
import { ADMIN, startStack } from './stack.mjs';

const stamp = Date.now().toString(36);
const newUser = {
  email: `e2e.${stamp}@example.test`,
  password: 'New-user-pass-42',
  firstName: 'Erin',
  lastName: 'Tester',
  editedLastName: 'Tested',
};

describe('admin flow through the real stack', () => {
  let stack;
  let browser;
  let context;
  let page;

  before(async () => {
    stack = await startStack({ name: 'admin' });
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('signs in as the seeded admin and shows the dashboard with counts', withPage(() => page, 'signs-in-as-the-seeded-admin-and-shows-t', async () => {
    await page.goto(`${stack.baseUrl}/login`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await capture(page, '01-sign-in');
    // By keyboard only: Tab to each field, Enter submits.
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    // Counts come from /api/users/count and /api/roles/count.
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Users', 'Roles', 'Permissions']) await nav.getByRole('link', { name }).waitFor();
    await page.getByRole('link', { name: /users, open the list/ }).waitFor();
    await page.getByRole('link', { name: /roles, open the list/ }).waitFor();
    await capture(page, '02-dashboard');
  }));

  it('creates a user with a role picked through /autocomplete', withPage(() => page, 'creates-a-user-with-a-role-picked-throug', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByRole('link', { name: 'New user' }).click();
    await page.getByLabel('Email (required)').fill(newUser.email);
    await page.getByLabel('First name').fill(newUser.firstName);
    await page.getByLabel('Last name').fill(newUser.lastName);
    await page.getByLabel('Password').fill(newUser.password);
    // The role picker by keyboard: type, arrow down to the option, Enter.
    const role = page.getByRole('combobox', { name: 'Role' });
    await role.fill('User');
    await page.getByRole('option', { name: 'User', exact: true }).waitFor();
    await role.press('ArrowDown');
    await page.getByRole('option', { name: 'User', exact: true, selected: true }).waitFor();
    await role.press('Enter');
    await page.getByText('Selected: User').waitFor();
    await capture(page, '03-user-form');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { level: 1, name: newUser.email }).waitFor();
    await page.getByText('User created.').waitFor();
    await capture(page, '04-user-view');
  }));

  it('finds the new user with a filter', withPage(() => page, 'finds-the-new-user-with-a-filter', async () => {
    await page.goto(`${stack.baseUrl}/users`);
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByLabel('Search by email').fill(newUser.email.toUpperCase().slice(0, 12)); // case-insensitive substring
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/email=/);
    // The unfiltered list already showed the user: wait for the filtered answer.
    await page.getByText('1–1 of 1').waitFor();
    await page.getByRole('link', { name: newUser.email, exact: true }).waitFor();
    assert.equal(await page.locator('table tbody tr').count(), 1, 'exactly the new user matches');
    await capture(page, '05-users-filtered');
  }));

  it('edits the user', withPage(() => page, 'edits-the-user', async () => {
    await page.getByRole('link', { name: `Edit ${newUser.email}` }).click();
    const last = page.getByLabel('Last name');
    await last.waitFor();
    assert.equal(await last.inputValue(), newUser.lastName);
    await last.fill(newUser.editedLastName);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('User saved.').waitFor();
    await page.getByText(newUser.editedLastName, { exact: true }).waitFor();
  }));

  it('exports the filtered list as CSV with the header row', withPage(() => page, 'exports-the-filtered-list-as-csv-with-th', async () => {
    await page.goto(`${stack.baseUrl}/users?email=${encodeURIComponent(newUser.email)}`);
    await page.getByRole('link', { name: newUser.email, exact: true }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const text = await readFile(await download.path(), 'utf8');
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter(Boolean);
    const header = lines[0].split(',').map((h) => h.replace(/^"|"$/g, ''));
    for (const col of ['id', 'email', 'firstName', 'lastName']) assert.ok(header.includes(col), `CSV header ${lines[0]} lacks ${col}`);
    assert.ok(!header.some((h) => /password|hash/i.test(h)), `CSV header leaks a secret column: ${lines[0]}`);
    assert.equal(lines.length, 2, `one data row for the filter, got:\n${text}`);
    assert.ok(lines[1].includes(newUser.email) && lines[1].includes(newUser.editedLastName));
    assert.match(download.suggestedFilename(), /\.csv$/);
  }));

  it('shows roles, permissions and the profile', withPage(() => page, 'shows-roles-permissions-and-the-profile', async () => {
    await page.goto(`${stack.baseUrl}/roles`);
    await page.getByRole('link', { name: 'Administrator', exact: true }).waitFor();
    await capture(page, '06-roles');
    await page.goto(`${stack.baseUrl}/permissions`);
    await page.getByRole('heading', { level: 1, name: 'Permissions' }).waitFor();
    await page.locator('table tbody tr').first().waitFor();
    await capture(page, '07-permissions');
    await page.goto(`${stack.baseUrl}/profile`);
    await page.getByRole('heading', { level: 2, name: 'Change password' }).waitFor();
    await capture(page, '08-profile');
  }));

  it('is usable at 360 px wide', withPage(() => page, 'is-usable-at-360-px-wide', async () => {
    const mobile = await context.newPage();
    await mobile.setViewportSize({ width: 360, height: 740 });
    await mobile.goto(`${stack.baseUrl}/users`);
    await mobile.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px at 360 px (only the table may)`);
    await mobile.getByRole('button', { name: 'Menu' }).click();
    await mobile.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Roles' }).click();
    await mobile.getByRole('heading', { level: 1, name: 'Roles' }).waitFor();
    await capture(mobile, '09-roles-360px');
    await mobile.close();
  }));

  it('signs out; an admin page then asks to sign in', withPage(() => page, 'signs-out', async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.goto(`${stack.baseUrl}/users`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.match(page.url(), /\/login$/);
  }));

  it('signs in as the new user, returns to the page asked for, and sees no admin pages', withPage(() => page, 'new-user', async () => {
    // Still on the sign-in page that /users redirected to: after signing in, the app goes back
    // to /users, which this user may not see.
    await fillSignIn(page, newUser.email, newUser.password);
    await page.getByRole('heading', { level: 1, name: 'Not allowed' }).waitFor();
    assert.match(page.url(), /\/users$/);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('button', { name: 'Sign out' }).waitFor(); // a 403 page does not sign out
    await capture(page, '11-not-allowed');

    await nav.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { level: 2, name: `Welcome, ${newUser.firstName} ${newUser.editedLastName}` }).waitFor();
    await nav.getByRole('link', { name: 'Profile' }).waitFor();
    for (const name of ['Users', 'Roles', 'Permissions']) assert.equal(await nav.getByRole('link', { name }).count(), 0, `${name} link shown`);
    await page.getByText('Your role has no administration pages.').waitFor();
    await capture(page, '10-dashboard-user');
  }));
});
