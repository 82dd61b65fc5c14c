#!/usr/bin/env node
// The seed's wrapper (section 1.3): PM2 starts the frontend with Next.js-style flags,
// `npm run dev -- --hostname 0.0.0.0 --port 3001`, which Vite rejects. This translates
// `--hostname` to Vite's `--host` and runs Vite:
//   node scripts/serve.mjs dev     [vite flags]  → the dev server (HMR)
//   node scripts/serve.mjs preview [vite flags]  → serves dist/ on FRONT_PORT (default 3001)
// Signals are passed on to Vite so `pm2 restart` / `runway restart` stop it cleanly.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Maps our argv to Vite's: `--hostname X`/`--hostname=X` → `--host X`; the rest unchanged. */
export function translateArgs(args) {
  const out = [];
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (a === '--hostname') {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        out.push('--host', next);
        i += 1;
      } else out.push('--host');
    } else if (a.startsWith('--hostname=')) out.push(`--host=${a.slice('--hostname='.length)}`);
    else out.push(a);
  }
  return out;
}

function hasFlag(args, name) {
  return args.some((a) => a === name || a.startsWith(`${name}=`));
}

export function viteArgs(mode, rawArgs, env = process.env) {
  const args = translateArgs(rawArgs);
  if (mode === 'preview') {
    if (!hasFlag(args, '--port')) args.push('--port', env.FRONT_PORT || '3001');
    if (!hasFlag(args, '--strictPort')) args.push('--strictPort');
    return ['preview', ...args];
  }
  if (mode === 'dev') return args;
  throw new Error(`unknown mode "${mode}": use "dev" or "preview"`);
}

function main() {
  const [mode = 'dev', ...rest] = process.argv.slice(2);
  let args;
  try {
    args = viteArgs(mode, rest);
  } catch (e) {
    console.error(`serve.mjs: ${e.message}`);
    process.exit(2);
  }
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) {
    console.error('serve.mjs: vite: not found. Install the frontend dependencies first: cd frontend && npm ci');
    process.exit(127);
  }
  if (mode === 'preview' && !existsSync(join(root, 'dist', 'index.html'))) {
    console.error('serve.mjs: dist/ is not built. Run: cd frontend && npm run build');
    process.exit(1);
  }
  const child = spawn(process.execPath, [vite, ...args], { cwd: root, stdio: 'inherit', env: process.env });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
