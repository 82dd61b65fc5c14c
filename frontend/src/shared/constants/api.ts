/**
 * The API base. Relative `/api` by default: the proxy (runway, nginx or Vite's own proxy)
 * serves the frontend and the API on one origin (seed 1.1), so cookies and CSRF just work.
 * `VITE_BACKEND_API_URL` overrides it at build time, e.g. for a backend on another origin.
 */
const fromEnv: string | undefined = import.meta.env.VITE_BACKEND_API_URL;

export const API_URL: string = (fromEnv && fromEnv.trim() !== '' ? fromEnv.trim() : '/api').replace(
  /\/+$/,
  '',
);

/** Header the backend requires on cookie-authenticated unsafe requests (CSRF rule). */
export const CSRF_HEADER = { name: 'X-Requested-With', value: 'XMLHttpRequest' } as const;

/** Auth routes that must never trigger a refresh-and-retry (they are how you get a session, or public). */
export const NO_REFRESH_PATHS: readonly string[] = [
  '/auth/providers',
  '/auth/signin/local',
  '/auth/signup',
  '/auth/refresh',
  '/auth/signout',
  '/auth/send-password-reset-email',
  '/auth/password-reset',
];
