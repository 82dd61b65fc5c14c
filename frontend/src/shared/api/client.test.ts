import { describe, expect, it, vi } from 'vitest';
import { createHttpClient } from './client';
import { ApiError, NOT_ALLOWED_MESSAGE } from './errors';
import { err, fakeFetch, type FakeRequest } from '../../test/fakeServer';

/**
 * A session whose access token has expired: every API call answers 401 until /auth/refresh
 * succeeds, after which calls succeed. The refresh token rotates, so a second refresh with
 * the same token is "reuse" and fails, as on the real backend.
 */
function expiredSession(opts: { refreshOk?: boolean; stillUnauthorizedAfterRefresh?: boolean } = {}) {
  let fresh = false;
  let refreshes = 0;
  const server = fakeFetch(async (req: FakeRequest) => {
    if (req.path === '/auth/refresh') {
      refreshes += 1;
      // Let concurrent callers pile up before the refresh answers.
      await new Promise((r) => setTimeout(r, 10));
      if (opts.refreshOk === false || refreshes > 1) return err(401, 'unauthorized', 'refresh token reused');
      fresh = true;
      return { status: 200, body: { id: 'u1' } };
    }
    if (req.path === '/users/forbidden') return err(403, 'forbidden', 'Missing permission READ_SECRETS');
    if (!fresh || opts.stillUnauthorizedAfterRefresh) return err(401, 'unauthorized', 'token expired');
    return { status: 200, body: { ok: true, path: req.path } };
  });
  return { server, refreshes: () => refreshes };
}

describe('HTTP client', () => {
  it('refreshes once on a 401 and retries the request once', async () => {
    const { server, refreshes } = expiredSession();
    const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
    await expect(client.get('/auth/me')).resolves.toEqual({ ok: true, path: '/auth/me' });
    expect(refreshes()).toBe(1);
    expect(server.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /auth/me', 'POST /auth/refresh', 'GET /auth/me']);
  });

  it('shares one refresh among concurrent 401s (the rotating token is presented once)', async () => {
    const { server, refreshes } = expiredSession();
    const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
    const results = await Promise.all(['/users', '/roles', '/permissions', '/auth/me', '/users/count'].map((p) => client.get(p)));
    expect(results).toHaveLength(5);
    expect(refreshes()).toBe(1);
    expect(server.calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(1);
  });

  it('does not loop when the retried request is refused again', async () => {
    const { server, refreshes } = expiredSession({ stillUnauthorizedAfterRefresh: true });
    const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
    const results = await Promise.allSettled([client.get('/users'), client.get('/roles'), client.get('/auth/me')]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 401 });
    }
    expect(refreshes()).toBe(1);
    // Each request: the first try and one retry. Nothing more.
    expect(server.calls.filter((c) => c.path !== '/auth/refresh')).toHaveLength(6);
  });

  it('reports a lost session once when the refresh fails, and fails the request with the 401', async () => {
    const { server } = expiredSession({ refreshOk: false });
    const onSessionLost = vi.fn();
    const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch, onSessionLost });
    const results = await Promise.allSettled([client.get('/users'), client.get('/roles')]);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as ApiError).status === 401)).toBe(true);
    expect(onSessionLost).toHaveBeenCalledTimes(1);
    expect(server.calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(1);
  });

  it('treats 403 as "not allowed": no refresh, no sign-out', async () => {
    const fresh = fakeFetch((req) => (req.path === '/users/forbidden' ? err(403, 'forbidden', 'Missing permission READ_SECRETS') : { status: 200, body: {} }));
    const onSessionLost = vi.fn();
    const client = createHttpClient({ baseUrl: '/api', fetch: fresh.fetch, onSessionLost });
    const e = await client.get('/users/forbidden').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(403);
    expect((e as ApiError).message).toBe(NOT_ALLOWED_MESSAGE);
    expect(onSessionLost).not.toHaveBeenCalled();
    expect(fresh.calls.map((c) => c.path)).toEqual(['/users/forbidden']);
  });

  it('never refreshes for a failed sign-in', async () => {
    const server = fakeFetch(() => err(401, 'invalid_credentials', "Sorry, we don't recognize your credentials"));
    const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
    await expect(client.post('/auth/signin/local', { email: 'a@b.c', password: 'x' })).rejects.toMatchObject({
      status: 401,
      message: "Sorry, we don't recognize your credentials",
    });
    expect(server.calls).toHaveLength(1);
  });

  it('sends the CSRF header and cookies on unsafe methods, and JSON bodies', async () => {
    const seen: RequestInit[] = [];
    const client = createHttpClient({
      baseUrl: '/api',
      fetch: (async (_url: RequestInfo | URL, init: RequestInit = {}) => {
        seen.push(init);
        return new Response(null, { status: 204 });
      }) as typeof fetch,
    });
    await client.post('/users', { data: { email: 'x@y.z' } });
    await client.put('/users/1', { id: '1', data: {} });
    await client.del('/users/1');
    for (const init of seen) {
      expect((init.headers as Record<string, string>)['X-Requested-With']).toBe('XMLHttpRequest');
      expect(init.credentials).toBe('include');
    }
    expect(seen[0]!.body).toBe(JSON.stringify({ data: { email: 'x@y.z' } }));
    expect((seen[0]!.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('reads field errors from a 422 and query strings skip empty values', async () => {
    const server = fakeFetch((req) =>
      req.method === 'POST' ? err(422, 'validation', 'email: not a valid email address', { field: 'email' }) : { status: 200, body: { rows: [], count: 0 } },
    );
    const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
    const e = (await client.post('/users', { data: {} }).catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(422);
    expect(e.fields).toEqual({ email: 'email: not a valid email address' });
    await client.get('/users', { query: { limit: 10, page: 0, email: '', field: undefined } });
    expect(server.calls[1]!.query.toString()).toBe('limit=10&page=0');
  });

  it("finds the field a 422 names at the start of its message (the backend's shape)", async () => {
    const cases: [string, string | undefined][] = [
      ['email must be a valid email address', 'email'],
      ['password must be at least 8 characters', 'password'],
      ['currentPassword is not correct', 'currentPassword'],
      ['app_role: no such role', 'app_role'],
      ['Request body has the wrong shape: unknown field `nickname`, expected one of `email`', 'nickname'],
      ['A referenced record does not exist', undefined],
    ];
    for (const [message, field] of cases) {
      const server = fakeFetch(() => err(422, 'validation_failed', message));
      const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
      const e = (await client.post('/users', { data: {} }).catch((x: unknown) => x)) as ApiError;
      expect(e.fields, message).toEqual(field ? { [field]: message } : {});
      expect(e.message).toBe(message);
    }
  });

  it('turns a network failure into a clear, retryable error', async () => {
    const client = createHttpClient({
      baseUrl: '/api',
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
    });
    await expect(client.get('/users')).rejects.toMatchObject({ status: 0, code: 'network' });
  });
});
