// Headless Debian Chromium driven by playwright-core (which downloads no browser). The flags
// keep Chromium off the network this machine doesn't have.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { screenshotDir } from './stack.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-gpu', '--no-first-run', '--disable-quic'],
  });
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

/** Signs in through the form and waits for the dashboard. */
export async function signIn(page, baseUrl, email, password) {
  await page.goto(`${baseUrl}/login`);
  await fillSignIn(page, email, password);
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
}

/** Fills and submits the sign-in form already on screen. */
export async function fillSignIn(page, email, password) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * Wraps a test body so a failure leaves a screenshot of the page (FAILED-<name>.png) and the
 * page's URL in the error, which is what one needs to see why a step failed.
 */
export function withPage(getPage, name, fn) {
  return async () => {
    try {
      await fn();
    } catch (e) {
      const page = getPage();
      if (page && !page.isClosed()) {
        await screenshot(page, `FAILED-${name}`).catch(() => {});
        e.message = `${e.message}\n(page at ${page.url()}; screenshot e2e/screenshots/FAILED-${name}.png)`;
      }
      throw e;
    }
  };
}
