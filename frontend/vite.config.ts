// Vite + Vitest configuration. The API is same-origin `/api` (seed 1.1); in dev and preview
// Vite proxies it to the backend named by BACKEND_PROXY_TARGET (default: the seed's :3000),
// so the browser never needs CORS.
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

const backend = process.env.BACKEND_PROXY_TARGET ?? 'http://127.0.0.1:3000';
const proxy = {
  '/api': { target: backend, changeOrigin: false, xfwd: true },
  '/api-docs': { target: backend, changeOrigin: false, xfwd: true },
};

export default defineConfig({
  plugins: [react()],
  server: { allowedHosts: true, proxy },
  preview: { allowedHosts: true, proxy },
  build: { sourcemap: true, target: 'es2022' },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    testTimeout: 20_000,
    include: ['src/**/*.test.{ts,tsx}', 'scripts/**/*.test.ts'],
  },
});
