// The real stack for the end-to-end tests, on a fresh SQLite data directory — or, with
// E2E_DATABASE_URL=postgres://USER:PASS@HOST:PORT/postgres, a fresh PostgreSQL database made
// for each stack and dropped after it — and free ports (44000-44099 when free), everything
// bound to 127.0.0.1. The default front is runway itself:
// `runway up --detach` with a manifest written to a temporary directory (its own state
// directory, so a developer's running stack on :8080 is untouched) that runs the workspace's
// `backend start` and puts runway's proxy in front — /api to the backend, / served from
// frontend/dist with SPA fallback, as in production. `E2E_FRONT=vite` (vite preview and its
// proxy, the seed's `npm run start`) or `E2E_FRONT=nginx` (the seed's nginx) start the backend
// directly behind those fronts instead; the sign-in benchmark compares all three.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

let built = false;
/**
 * Builds the backend and runway once per process (a no-op when up to date; the first build can
 * take minutes) and returns both binaries. E2E_BACKEND_BIN / E2E_RUNWAY_BIN use prebuilt ones.
 */
export function binaries() {
  const bins = {
    // Absolute: runway runs from a temporary directory.
    backend: resolve(process.env.E2E_BACKEND_BIN ?? join(repoRoot, 'target', 'debug', 'backend')),
    runway: resolve(process.env.E2E_RUNWAY_BIN ?? join(repoRoot, 'target', 'debug', 'runway')),
  };
  if (!built && !(process.env.E2E_BACKEND_BIN && process.env.E2E_RUNWAY_BIN)) {
    log('cargo build -p backend -p runway (first build can take minutes)…');
    const r = spawnSync('cargo', ['build', '-p', 'backend', '-p', 'runway'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('cargo build -p backend -p runway failed: see the output above');
  }
  built = true;
  return bins;
}

/** The backend binary (see binaries()). */
export function backendBinary() {
  return binaries().backend;
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
 * The backend's environment: a fresh embedded SQLite database in `dataDir` (no PostgreSQL
 * settings may leak in from the caller), the seeded admin's password, email links pointing at
 * the front the browser uses, and optionally a short access-token lifetime.
 */
function backendEnv({ port, dataDir, baseUrl, accessTtlMs, databaseUrl, extraEnv }) {
  const env = {
    NODE_ENV: 'development',
    PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_PASS: ADMIN.password,
    SECRET_KEY: 'e2e-secret-key-that-is-long-enough-0123456789',
    // The suite signs in more often than a person would; keep the limiter out of its way.
    AUTH_RATE_LIMIT_MAX: '1000',
    // Links in emails (the development outbox) point at the front the browser uses.
    FRONTEND_URL: baseUrl,
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  };
  if (accessTtlMs) env.AUTH_ACCESS_TOKEN_TTL_MS = String(accessTtlMs);
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return { ...env, ...extraEnv };
}

/**
 * A fresh PostgreSQL database for one stack when E2E_DATABASE_URL names a server (the backend
 * migrates and seeds it on `start`), else null: the backend's embedded SQLite in the data
 * directory. `drop()` removes the database once the stack is down.
 */
function freshDatabase(name) {
  const server = process.env.E2E_DATABASE_URL;
  if (!server) return null;
  const db = `runway_e2e_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${Date.now()}`;
  const psql = (sql) => {
    const r = spawnSync('psql', [server, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(`psql on E2E_DATABASE_URL failed (${r.error?.message ?? r.stderr.trim()}): is PostgreSQL running and psql installed?`);
    }
  };
  psql(`CREATE DATABASE "${db}"`);
  const url = new URL(server);
  url.pathname = `/${db}`;
  log(`${name}: PostgreSQL database ${db}`);
  return { url: url.toString(), drop: () => psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`) };
}

/** The caller's environment without what would point a child at another database or stack. */
function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'DATABASE_URL' || k.startsWith('DB_') || k.startsWith('RUNWAY_') || k === 'NODE_ENV') delete env[k];
  }
  return env;
}

/** Two different free ports. */
async function twoPorts() {
  const a = await freePort();
  let b = await freePort();
  while (b === a) b = await freePort();
  return [a, b];
}

/**
 * Starts the stack. `accessTtlMs` shortens the access token's life (the refresh test); `extraEnv`
 * adds backend variables (the OAuth test's provider); `front` is `runway` (default), `vite` or
 * `nginx`. Returns { baseUrl, backendUrl, dataDir, stop() }, and
 * with runway also `runway(...args)` (its CLI for this stack).
 */
export async function startStack({ name = 'stack', accessTtlMs, extraEnv, front = process.env.E2E_FRONT ?? 'runway' } = {}) {
  if (!existsSync(join(frontendDir, 'dist', 'index.html'))) throw new Error('frontend/dist is missing: run `npm run build` first (npm run e2e does)');
  if (front === 'runway') return startRunwayStack({ name, accessTtlMs, extraEnv });
  const bin = backendBinary();
  const dataDir = mkdtempSync(join(tmpdir(), `runway-e2e-${name}-`));
  const [backendPort, frontPort] = await twoPorts();
  const baseUrl = `http://127.0.0.1:${frontPort}`;
  const database = freshDatabase(name);
  const env = { ...cleanEnv(), ...backendEnv({ port: backendPort, dataDir, baseUrl, accessTtlMs, databaseUrl: database?.url, extraEnv }) };
  const backend = startProcess(`${name}-backend`, bin, ['start'], { cwd: repoRoot, env });
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const stop = async () => {
    await Promise.all([stopProcess(front_?.child), stopProcess(backend.child)]);
    rmSync(dataDir, { recursive: true, force: true });
    database?.drop();
    if (front_?.dir) rmSync(front_.dir, { recursive: true, force: true });
  };
  let front_;
  try {
    await waitFor(`${backendUrl}/api/health`, { timeoutMs: 60_000, child: backend.child, name: 'backend', logFile: backend.logFile });
    const missing = await missingApi(backendUrl);
    if (missing) throw new Error(missing);
    front_ = startFront(front, { name, frontPort, backendUrl });
    await waitFor(`${baseUrl}/login`, { timeoutMs: 30_000, child: front_.child, name: `front (${front})`, logFile: front_.logFile });
    await waitFor(`${baseUrl}/api/health`, { timeoutMs: 10_000, name: 'the /api proxy', logFile: front_.logFile });
    log(`${name}: front (${front}) ${baseUrl} → backend ${backendUrl} (data ${dataDir})`);
    return { baseUrl, backendUrl, dataDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A TOML basic string (JSON's escapes are TOML's). */
const tomlString = (v) => JSON.stringify(String(v));

/**
 * The test manifest: runway's proxy on `proxyPort` in front of the workspace's backend on
 * `backendPort`, and frontend/dist served statically with SPA fallback (production's `/`
 * route). Absolute paths, so it works from a temporary directory.
 */
export function testManifest({ proxyPort, backendPort, backendBin, env }) {
  const envLines = Object.entries(env)
    .map(([k, v]) => `${k} = ${tomlString(v)}`)
    .join('\n');
  return `# Written by frontend/e2e/stack.mjs for one test run.
[proxy]
listen = [${tomlString(`127.0.0.1:${proxyPort}`)}]

[[route]]
path = "/api"
process = "backend"

[[route]]
path = "/"
static = ${tomlString(join(frontendDir, 'dist'))}

[[process]]
name = "backend"
command = [${tomlString(backendBin)}, "start"]
cwd = ${tomlString(repoRoot)}
port = ${backendPort}
readiness = { http = "/api/ready", interval = "250ms", timeout = "2s", failure_threshold = 3 }
restart = "on-failure"
stop_timeout = "10s"

[process.env]
${envLines}
`;
}

/** Runs the runway CLI against the test manifest and state directory; returns spawnSync's result. */
function runwayCli(runway, dir, args, env) {
  return spawnSync(runway, ['--config', join(dir, 'runway.toml'), '--home', join(dir, 'home'), '--mode', 'development', ...args], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** Whether `runway` is runway's CLI with the `up` verb. */
function runwayHasUp(runway) {
  const help = spawnSync(runway, ['--help'], { encoding: 'utf8' });
  return help.status === 0 && /^\s+up\s/m.test(help.stdout ?? '');
}

/**
 * `runway up --detach` on a test manifest in a temporary directory (manifest, state directory
 * and data directory all inside it), then `runway down` to stop. Fails, saying how to fix it,
 * when the runway binary has no `up` (runway's CLI not built).
 */
async function startRunwayStack({ name, accessTtlMs, extraEnv }) {
  const { backend: backendBin, runway } = binaries();
  if (!runwayHasUp(runway)) {
    throw new Error(
      `${runway} is not runway's CLI (no \`up\` in its --help): build it with \`cargo build -p runway\` from a checkout that has the supervisor, ` +
        'point E2E_RUNWAY_BIN at one, or run the suite against another front with E2E_FRONT=vite|nginx',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), `runway-e2e-${name}-`));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const [backendPort, proxyPort] = await twoPorts();
  const baseUrl = `http://127.0.0.1:${proxyPort}`;
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const database = freshDatabase(name);
  writeFileSync(join(dir, 'runway.toml'), testManifest({ proxyPort, backendPort, backendBin, env: backendEnv({ port: backendPort, dataDir, baseUrl, accessTtlMs, databaseUrl: database?.url, extraEnv }) }));
  const env = cleanEnv();
  const logsDir = join(dir, 'home', 'logs');
  const saveLogs = () => {
    try {
      cpSync(logsDir, join(outputDir, `${name}-runway-logs`), { recursive: true });
    } catch {
      /* nothing logged yet */
    }
  };
  const logTail = () => {
    saveLogs();
    let files;
    try {
      files = readdirSync(logsDir).filter((f) => f.endsWith('.log'));
    } catch {
      return '(no runway logs)';
    }
    return files.map((f) => `--- ${f}\n${tail(join(logsDir, f), 20)}`).join('\n');
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const r = runwayCli(runway, dir, ['down'], env);
    saveLogs();
    if (r.status !== 0) log(`${name}: runway down failed: ${r.error?.message ?? `exit ${r.status ?? r.signal}`} ${r.stderr ?? ''}`);
    rmSync(dir, { recursive: true, force: true });
    database?.drop();
  };
  // A test run that dies before its after() hook must not leave the daemon serving.
  process.once('exit', () => {
    if (!stopped) runwayCli(runway, dir, ['down'], env);
  });
  try {
    const up = runwayCli(runway, dir, ['up', '--detach'], env);
    if (up.status !== 0) {
      throw new Error(`runway up --detach ${up.error ? `could not run: ${up.error.message}` : `exited ${up.status ?? up.signal}`}:\n${up.stdout}\n${up.stderr}\nLogs (${logsDir}):\n${logTail()}`);
    }
    await waitFor(`${baseUrl}/api/health`, { timeoutMs: 60_000, name: "runway's proxy to the backend", logFile: join(logsDir, 'backend-out.log') });
    const missing = await missingApi(baseUrl);
    if (missing) throw new Error(missing);
    await waitFor(`${baseUrl}/login`, { timeoutMs: 10_000, name: "runway's static route (frontend/dist)", logFile: join(logsDir, 'runway-console.log') });
    log(`${name}: runway ${baseUrl} (proxy → backend ${backendUrl}; state ${dir})`);
    // `runway(...args)`: the CLI against this stack (e.g. `stop backend`), as a user would run it.
    return { baseUrl, backendUrl, dataDir, stop, runway: (...args) => runwayCli(runway, dir, args, env) };
  } catch (e) {
    e.message += `\n${logTail()}`;
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
      // A quoted-printable message: undo soft line breaks and escapes so a long link reads
      // whole. Only then: in a 7bit message (what the backend writes now) "token=4B…" is the
      // link itself, and decoding "=4B" would corrupt one token in sixteen.
      let text = readFileSync(f, 'utf8');
      if (/^content-transfer-encoding:\s*quoted-printable/im.test(text)) {
        text = text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      }
      if (to && !text.toLowerCase().includes(to.toLowerCase())) continue;
      const m = new RegExp(`https?://[^\\s"<>]*${path.replace(/[/.]/g, '\\$&')}\\?token=[A-Za-z0-9_-]+`).exec(text);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no ${path} link${to ? ` for ${to}` : ''} in ${dir} after ${timeoutMs} ms`);
}
