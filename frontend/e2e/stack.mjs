// The real stack for the end-to-end tests: the Rust backend (`backend start` on a fresh SQLite
// data directory, on a free port) and, in front of it, the built frontend on one origin with
// /api proxied to the backend. The front is runway's proxy when the repo has it
// (E2E_FRONT=runway), otherwise `vite preview` with its proxy (the default until runway's
// proxy lands). Everything binds 127.0.0.1; ports come from 44000-44099 when free.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const frontendDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(frontendDir, '..');
export const outputDir = join(frontendDir, 'e2e', 'output');
export const screenshotDir = join(frontendDir, 'e2e', 'screenshots');

/** The seeded admin (backend seeds; password from ADMIN_PASS, which the stack sets). */
export const ADMIN = {
  email: process.env.E2E_ADMIN_EMAIL ?? 'admin@runway.local',
  password: process.env.E2E_ADMIN_PASS ?? 'e2e-Admin-pass-123',
};

function log(msg) {
  process.stderr.write(`[e2e] ${msg}\n`);
}

function tryListen(port) {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(null));
    srv.listen(port, '127.0.0.1', () => {
      const got = srv.address().port;
      srv.close(() => res(got));
    });
  });
}

/** A free port from our range (44000-44099), or any free port if the range is taken. */
export async function freePort() {
  const start = 44000 + Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i += 1) {
    const p = await tryListen(44000 + ((start - 44000 + i) % 100));
    if (p) return p;
  }
  return tryListen(0);
}

let backendBuilt = false;
/** Builds the backend once per process (a no-op when up to date) and returns the binary. */
export function backendBinary() {
  if (process.env.E2E_BACKEND_BIN) return process.env.E2E_BACKEND_BIN;
  const bin = join(repoRoot, 'target', 'debug', 'backend');
  if (!backendBuilt) {
    log('cargo build -p backend (first build can take minutes)…');
    const r = spawnSync('cargo', ['build', '-p', 'backend'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('cargo build -p backend failed: see the output above');
    backendBuilt = true;
  }
  return bin;
}

async function waitFor(url, { timeoutMs, child, name, logFile }) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`${name} exited with code ${child.exitCode} before it was ready. Log ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${name} not ready at ${url} after ${timeoutMs} ms (last: ${last}). Log ${logFile}:\n${tail(logFile)}`);
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function startProcess(name, cmd, args, opts) {
  mkdirSync(outputDir, { recursive: true });
  const logFile = join(outputDir, `${name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  return { child, logFile };
}

async function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * The front door on one origin: dist/ plus /api proxied to the backend.
 * - `vite`: `vite preview` with its proxy (what `npm run start` serves, seed 1.7);
 * - `nginx`: the seed's nginx (1.5) serving dist/ with SPA fallback, gzip, and /api proxied.
 */
function startFront(kind, { name, frontPort, backendUrl }) {
  const dist = join(frontendDir, 'dist');
  if (kind === 'vite') {
    const vite = join(frontendDir, 'node_modules', 'vite', 'bin', 'vite.js');
    return startProcess(`${name}-front`, process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(frontPort), '--strictPort'], {
      cwd: frontendDir,
      env: { ...process.env, BACKEND_PROXY_TARGET: backendUrl },
    });
  }
  if (kind === 'nginx') {
    const dir = mkdtempSync(join(tmpdir(), `runway-e2e-nginx-`));
    mkdirSync(join(dir, 'tmp'));
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fcgi; uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  gzip on; gzip_types text/css application/javascript application/json image/svg+xml;
  server {
    listen 127.0.0.1:${frontPort};
    root ${dist};
    location /api {
      proxy_pass ${backendUrl};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    location / { try_files $uri /index.html; }
  }
}
`,
    );
    const p = startProcess(`${name}-front`, 'nginx', ['-c', conf, '-p', dir], { cwd: dir });
    return { ...p, dir };
  }
  throw new Error(`unknown front "${kind}" (E2E_FRONT): use vite or nginx`);
}

/**
 * Starts backend + front. `accessTtlMs` shortens the access token's life (the refresh test).
 * Returns { baseUrl, backendUrl, stop() }.
 */
export async function startStack({ name = 'stack', accessTtlMs, front: front_kind = process.env.E2E_FRONT ?? 'vite' } = {}) {
  const bin = backendBinary();
  if (!existsSync(join(frontendDir, 'dist', 'index.html'))) throw new Error('frontend/dist is missing: run `npm run build` first (npm run e2e does)');
  const dataDir = mkdtempSync(join(tmpdir(), `runway-e2e-${name}-`));
  const backendPort = await freePort();
  let frontPort = await freePort();
  while (frontPort === backendPort) frontPort = await freePort();
  const baseUrl = `http://127.0.0.1:${frontPort}`;
  const env = { ...process.env };
  // A fresh embedded SQLite database: no PostgreSQL settings may leak in from the caller.
  for (const k of Object.keys(env)) if (k === 'DATABASE_URL' || k.startsWith('DB_')) delete env[k];
  Object.assign(env, {
    NODE_ENV: 'development',
    PORT: String(backendPort),
    BIND_ADDRESS: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_PASS: ADMIN.password,
    SECRET_KEY: 'e2e-secret-key-that-is-long-enough-0123456789',
    // The suite signs in more often than a person would; keep the limiter out of its way.
    AUTH_RATE_LIMIT_MAX: '1000',
    // Links in emails (the development outbox) point at the front the browser uses.
    FRONTEND_URL: baseUrl,
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  });
  if (accessTtlMs) env.AUTH_ACCESS_TOKEN_TTL_MS = String(accessTtlMs);
  const backend = startProcess(`${name}-backend`, bin, ['start'], { cwd: repoRoot, env });
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const stop = async () => {
    await Promise.all([stopProcess(front?.child), stopProcess(backend.child)]);
    rmSync(dataDir, { recursive: true, force: true });
    if (front?.dir) rmSync(front.dir, { recursive: true, force: true });
  };
  let front;
  try {
    await waitFor(`${backendUrl}/api/health`, { timeoutMs: 60_000, child: backend.child, name: 'backend', logFile: backend.logFile });
    const missing = await missingApi(backendUrl);
    if (missing) throw new Error(missing);
    front = startFront(front_kind, { name, frontPort, backendUrl });
    await waitFor(`${baseUrl}/login`, { timeoutMs: 30_000, child: front.child, name: `front (${front_kind})`, logFile: front.logFile });
    await waitFor(`${baseUrl}/api/health`, { timeoutMs: 10_000, name: 'the /api proxy', logFile: front.logFile });
    log(`${name}: front (${front_kind}) ${baseUrl} → backend ${backendUrl} (data ${dataDir})`);
    return { baseUrl, backendUrl, dataDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Names the part of the API the backend does not serve (a 404 on a route the suite needs), so
 * a backend without it fails the suite at once with that reason rather than by a timeout in
 * the browser. Returns null when everything is there.
 */
export async function missingApi(backendUrl) {
  const probes = [
    ['GET', '/api/auth/me', 'the auth API (GET /api/auth/me)'],
    ['GET', '/api/users', 'the users CRUD API (GET /api/users)'],
  ];
  for (const [method, path, what] of probes) {
    const res = await fetch(`${backendUrl}${path}`, { method });
    if (res.status === 404) return `the backend does not serve ${what}: it answered 404`;
  }
  return null;
}

/**
 * The newest link to `path` (e.g. `/password-reset`) in the backend's development outbox
 * (`<data dir>/outbox/*.eml`, one file per message), waiting for the message to arrive.
 */
export async function linkFromOutbox(dataDir, path, { to, timeoutMs = 10_000 } = {}) {
  const dir = join(dataDir, 'outbox');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let files = [];
    try {
      files = readdirSync(dir)
        .filter((f) => f.endsWith('.eml'))
        .map((f) => join(dir, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    } catch {
      /* the outbox appears with the first message */
    }
    for (const f of files) {
      // Undo quoted-printable soft line breaks and escapes so a long link reads whole.
      const text = readFileSync(f, 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      if (to && !text.toLowerCase().includes(to.toLowerCase())) continue;
      const m = new RegExp(`https?://[^\\s"<>]*${path.replace(/[/.]/g, '\\$&')}\\?token=[A-Za-z0-9_-]+`).exec(text);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no ${path} link${to ? ` for ${to}` : ''} in ${dir} after ${timeoutMs} ms`);
}
