/** Renders the real route table at a path, with a given session and a fake backend. */
import { render } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { AuthProvider, type AuthState } from '../shared/auth/AuthContext';
import { createHttpClient } from '../shared/api/client';
import { routes } from '../routes';
import type { CurrentUser } from '../shared/auth/types';
import { fakeFetch, type Handler } from './fakeServer';

export function user(overrides: Partial<CurrentUser> = {}): CurrentUser {
  return {
    id: 'u-1',
    email: 'jane@example.test',
    firstName: 'Jane',
    lastName: 'Doe',
    phoneNumber: null,
    emailVerified: true,
    role: { id: 'r-user', name: 'User', globalAccess: false },
    permissions: [],
    ...overrides,
  };
}

export function renderApp(path: string, opts: { session: AuthState; handler: Handler }) {
  const server = fakeFetch(opts.handler);
  const client = createHttpClient({ baseUrl: '/api', fetch: server.fetch });
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  const utils = render(
    <AuthProvider client={client} initialState={opts.session}>
      <RouterProvider router={router} />
    </AuthProvider>,
  );
  return { ...utils, router, calls: server.calls };
}
