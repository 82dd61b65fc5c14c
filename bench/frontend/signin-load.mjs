#!/usr/bin/env node
// Sign-in page load to interactive, through the stack, in headless Chromium (median of N).
// Starts the same stack as the e2e tests (real backend on fresh SQLite + the built frontend
// with /api proxied), then loads /login N times, each in a fresh browser context (cold cache,
// no cookies), and records, from navigation start:
//   - interactive: the moment the sign-in button is in the DOM (React has rendered the form and
//     its handlers; nothing else blocks input), observed in the page by a MutationObserver;
//   - dcl / load: DOMContentLoaded and load from Navigation Timing;
//   - me: when GET /api/auth/me (the session probe) answered.
// Also reports the initial JS (entry chunk + its static imports) gzip size from dist/.
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

async function measure(front) {
const stack = await startStack({ name: `bench-${front}`, front });
const browser = await launch();
const results = [];
try {
  // One warm-up load so the servers' first-request costs are not counted.
  {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${stack.baseUrl}/login`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await ctx.close();
  }
  for (let i = 0; i < runs; i += 1) {
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
    await page.goto(`${stack.baseUrl}/login`, { waitUntil: 'load' });
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/api/auth/me')));
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const me = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/auth/me'));
      return { interactive: window.__interactive, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, me: me?.responseEnd };
    });
    results.push(t);
    await ctx.close();
  }
} finally {
  await browser.close();
  await stack.stop();
}
return results;
}

const summary = { runs, initialJs: initialJs(), fronts: {} };
for (const front of fronts) {
  const results = await measure(front);
  const pick = (k) => results.map((r) => r[k]).filter((v) => typeof v === 'number');
  summary.fronts[front] = {
    medianMs: Object.fromEntries(['interactive', 'dcl', 'load', 'me'].map((k) => [k, +median(pick(k)).toFixed(1)])),
    interactiveSamplesMs: pick('interactive').map((v) => +v.toFixed(1)),
  };
}
console.log(JSON.stringify(summary, null, 2));
