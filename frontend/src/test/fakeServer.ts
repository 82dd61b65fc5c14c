/**
 * An in-memory stand-in for the backend's HTTP surface, behind `fetch`: the unit tests run
 * the real HTTP client and real components against it. Each handler sees the method, path,
 * query, body and headers, and returns a status and JSON body.
 */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string>;
}
export type Handler = (req: FakeRequest) => { status: number; body?: unknown; headers?: Record<string, string> } | Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>;

export function fakeFetch(handler: Handler) {
  const calls: FakeRequest[] = [];
  const fetchFn = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input), 'http://app.test');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const req: FakeRequest = {
      method: init.method ?? 'GET',
      path: url.pathname.replace(/^\/api/, ''),
      query: url.searchParams,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      headers,
    };
    calls.push(req);
    const res = await handler(req);
    const text = res.body === undefined ? '' : typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
    return new Response(res.status === 204 ? null : text, {
      status: res.status,
      headers: { 'Content-Type': typeof res.body === 'string' ? 'text/plain' : 'application/json', ...(res.headers ?? {}) },
    });
  };
  return { fetch: fetchFn as typeof fetch, calls };
}

export const err = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) => ({
  status,
  body: { error: { code, message, ...extra } },
});
