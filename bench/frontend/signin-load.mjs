#!/usr/bin/env node
// Sign-in page load to interactive, through the stack, in headless Chromium (median of N).
// Starts the same stack as the e2e tests (real backend on fresh SQLite + the built frontend
// with /api proxied), then loads /login N times, each in a fresh browser context (cold cache,
// no cookies), and records, from navigation start:
//   - interactive: the moment the sign-in button is in the DOM (React has rendered the form and
//     its handlers; nothing else blocks input), observed in the page by a MutationObserver;
//   - dcl / load: DOMContentLoaded and load from Navigation Timing;
//   - me: when GET /api/auth/me (the session probe) answered.
// Also reports the initial JS (entry chunk + its static imports) gzip size from dist/, and the
// entry script's bytes on the wire per front (whether the front compressed it).
// All fronts are started together and measured in interleaved rounds.
// Fronts, side by side: `runway` (`runway up` on a test manifest: its proxy serves dist/ and
// routes /api to the supervised backend), `vite` (vite preview + its proxy: the seed's
// `npm run start`) and `nginx` (the seed's nginx serving dist/ and proxying /api).
// Usage: node bench/frontend/signin-load.mjs [runs=5] [fronts=runway,vite,nginx]   (after `cd frontend && npm run build`)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launch } from '../../frontend/e2e/browser.mjs';
import { frontendDir, startStack } from '../../frontend/e2e/stack.mjs';

const runs = Number(process.argv[2] ?? 5);
const fronts = (process.argv[3] ?? 'runway,vite,nginx').split(',');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function initialJs() {
  const dist = join(frontendDir, 'dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = new Set([...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]));
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const buf = readFileSync(join(dist, f));
    raw += buf.length;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  return { files: [...files], rawKB: +(raw / 1024).toFixed(1), gzipKB: +(gz / 1024).toFixed(1) };
}

/** One cold load of /login in a fresh context (no cache, no cookies); times from navigation start. */
async function loadOnce(browser, baseUrl) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.addInitScript(() => {
    const seen = () => document.querySelector('form button[type="submit"]');
    const obs = new MutationObserver(() => {
      if (seen() && window.__interactive === undefined) {
        window.__interactive = performance.now();
        obs.disconnect();
      }
    });
    obs.observe(document, { childList: true, subtree: true });
  });
  await page.goto(`${baseUrl}/login`, { waitUntil: 'load' });
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/api/auth/me')));
  const t = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const me = res.find((e) => e.name.endsWith('/api/auth/me'));
    // Bytes of the entry script on the wire: shows whether the front compressed it.
    const js = res.find((e) => /\/assets\/index-[^/]+\.js$/.test(e.name));
    return { interactive: window.__interactive, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, me: me?.responseEnd, jsWireKB: js ? js.encodedBodySize / 1024 : undefined };
  });
  await ctx.close();
  return t;
}

// All fronts run at once and are measured in interleaved rounds (the order rotating each
// round), so a change in the machine's load hits every front alike.
const stacks = {};
const browser = await launch();
const results = Object.fromEntries(fronts.map((f) => [f, []]));
try {
  for (const front of fronts) stacks[front] = await startStack({ name: `bench-${front}`, front });
  // One warm-up load each so the servers' first-request costs are not counted.
  for (const front of fronts) await loadOnce(browser, stacks[front].baseUrl);
  for (let i = 0; i < runs; i += 1) {
    const order = fronts.map((_, k) => fronts[(k + i) % fronts.length]);
    for (const front of order) results[front].push(await loadOnce(browser, stacks[front].baseUrl));
  }
} finally {
  await browser.close();
  for (const s of Object.values(stacks)) await s.stop();
}

const summary = { runs, initialJs: initialJs(), fronts: {} };
for (const front of fronts) {
  const pick = (k) => results[front].map((r) => r[k]).filter((v) => typeof v === 'number');
  summary.fronts[front] = {
    medianMs: Object.fromEntries(['interactive', 'dcl', 'load', 'me'].map((k) => [k, +median(pick(k)).toFixed(1)])),
    interactiveSamplesMs: pick('interactive').map((v) => +v.toFixed(1)),
    entryJsOnWireKB: +median(pick('jsWireKB')).toFixed(1),
  };
}
console.log(JSON.stringify(summary, null, 2));
