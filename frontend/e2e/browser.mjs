// Headless Debian Chromium driven by playwright-core (which downloads no browser). The flags
// keep Chromium off the network this machine doesn't have.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { screenshotDir } from './stack.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
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

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * Runs axe-core (WCAG 2.x A and AA rules) on the page as it is and returns the serious and
 * critical violations, each as "rule: target (help)", for an assertion that the page is
 * labelled for screen readers, contrasted enough and operable.
 */
export async function a11yViolations(page) {
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.targets.slice(0, 3).join(', ')} (${v.help})`);
}

/** A screenshot of a main page, and the check that axe finds nothing serious on it. */
export async function capture(page, name) {
  await screenshot(page, name);
  const found = await a11yViolations(page);
  if (found.length) throw new Error(`accessibility problems on ${name} (${page.url()}):\n  ${found.join('\n  ')}`);
}
