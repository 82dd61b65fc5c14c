/**
 * The HTTP client every page uses. It owns the session rules of the cookie API:
 * - cookies travel with every request (`credentials: 'include'`), and every request carries
 *   the CSRF header the backend demands on unsafe methods;
 * - a 401 triggers one refresh (`POST /auth/refresh`) and one retry of that request, never more;
 *   concurrent 401s share a single in-flight refresh, so the rotating refresh token is presented
 *   once (presenting it twice would look like token theft and revoke the whole family);
 * - when the refresh itself fails, `onSessionLost` runs (the app sends the user to /login and
 *   back afterwards) and the request fails with the 401;
 * - a 403 is an ordinary ApiError ("not allowed"): it never signs the user out.
 */
import { API_URL, CSRF_HEADER, NO_REFRESH_PATHS } from '../constants/api';
import { ApiError, errorFromBody, toApiError } from './errors';

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

export interface HttpClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Called once when a refresh fails: the session is gone. */
  onSessionLost?: () => void;
}

export interface HttpClient {
  get<T>(path: string, opts?: RequestOptions): Promise<T>;
  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  put<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  del<T>(path: string, opts?: RequestOptions): Promise<T>;
  /** A GET whose body is returned as a Blob with the server's file name (CSV export). */
  download(path: string, opts?: RequestOptions): Promise<{ blob: Blob; filename: string | null }>;
  setOnSessionLost(cb: (() => void) | undefined): void;
}

export function buildUrl(baseUrl: string, path: string, query?: Query): string {
  const url = `${baseUrl}${path.startsWith('/') ? path : `/${path}`}`;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.append(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${url}?${qs}` : url;
}

function filenameFrom(disposition: string | null): string | null {
  if (!disposition) return null;
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star?.[1]) return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain?.[1] ?? null;
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const baseUrl = options.baseUrl ?? API_URL;
  const doFetch: typeof fetch = options.fetch ?? ((...a) => globalThis.fetch(...a));
  let onSessionLost = options.onSessionLost;

  // The refresh in flight, shared by every request that meets a 401 meanwhile.
  let refreshing: Promise<boolean> | null = null;
  // Counts successful refreshes: a request sent before the latest one just retries with the
  // new cookie instead of starting another refresh.
  let generation = 0;

  function refreshOnce(): Promise<boolean> {
    if (!refreshing) {
      refreshing = (async () => {
        try {
          const res = await doFetch(buildUrl(baseUrl, '/auth/refresh'), {
            method: 'POST',
            credentials: 'include',
            headers: { [CSRF_HEADER.name]: CSRF_HEADER.value, Accept: 'application/json' },
          });
          if (res.ok) generation += 1;
          else onSessionLost?.();
          return res.ok;
        } catch {
          // Unreachable server: the session may be fine; do not sign the user out for it.
          return false;
        } finally {
          refreshing = null;
        }
      })();
    }
    return refreshing;
  }

  async function send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      [CSRF_HEADER.name]: CSRF_HEADER.value,
    };
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    try {
      return await doFetch(buildUrl(baseUrl, path, opts.query), {
        method,
        headers,
        body,
        credentials: 'include',
        signal: opts.signal,
      });
    } catch (e) {
      throw toApiError(e);
    }
  }

  async function fail(res: Response): Promise<never> {
    let text = '';
    try {
      text = await res.text();
    } catch {
      /* an unreadable body still yields an error for its status */
    }
    throw errorFromBody(res.status, text);
  }

  /** Sends, and on a 401 refreshes (or joins the refresh in flight) and retries exactly once. */
  async function exchange(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const sentAt = generation;
    const res = await send(method, path, opts);
    if (res.status !== 401 || NO_REFRESH_PATHS.includes(path)) return res;

    const renewed = sentAt < generation ? true : await refreshOnce();
    if (!renewed) return res;
    return send(method, path, opts);
  }

  async function json<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    const res = await exchange(method, path, opts);
    if (!res.ok) return fail(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  return {
    get: (path, opts = {}) => json('GET', path, opts),
    post: (path, body, opts = {}) => json('POST', path, { ...opts, body }),
    put: (path, body, opts = {}) => json('PUT', path, { ...opts, body }),
    del: (path, opts = {}) => json('DELETE', path, opts),
    async download(path, opts = {}) {
      const res = await exchange('GET', path, opts);
      if (!res.ok) return fail(res);
      return { blob: await res.blob(), filename: filenameFrom(res.headers.get('Content-Disposition')) };
    },
    setOnSessionLost(cb) {
      onSessionLost = cb;
    },
  };
}

/** The app's client. Pages import this; tests build their own with a fake fetch. */
export const api: HttpClient = createHttpClient();

export { ApiError };
