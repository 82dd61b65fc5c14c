import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { err } from '../../test/fakeServer';
import { renderApp, user } from '../../test/renderApp';
import { can } from './permissions';

const list = { status: 200, body: { rows: [{ id: 'u9', email: 'someone@example.test', firstName: 'Some', lastName: 'One', disabled: false }], count: 1 } };

describe('permission gating', () => {
  it('a global-access role passes every check; others need the named permission', () => {
    expect(can(user({ role: { id: 'r', name: 'Super', globalAccess: true } }), 'DELETE_USERS')).toBe(true);
    expect(can(user({ permissions: ['READ_USERS'] }), 'READ_USERS')).toBe(true);
    expect(can(user({ permissions: ['READ_USERS'] }), 'DELETE_USERS')).toBe(false);
    expect(can(null, 'READ_USERS')).toBe(false);
  });

  it('a plain user sees no admin links and gets "not allowed" on an admin page, still signed in', async () => {
    const { calls } = renderApp('/users', { session: { status: 'signedIn', user: user() }, handler: () => list });
    expect(await screen.findByRole('heading', { level: 1, name: 'Not allowed' })).toBeInTheDocument();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).queryByRole('link', { name: 'Users' })).not.toBeInTheDocument();
    expect(within(nav).queryByRole('link', { name: 'Roles' })).not.toBeInTheDocument();
    expect(within(nav).queryByRole('link', { name: 'Permissions' })).not.toBeInTheDocument();
    expect(within(nav).getByRole('button', { name: 'Sign out' })).toBeInTheDocument();
    expect(calls.filter((c) => c.path.startsWith('/users'))).toHaveLength(0);
  });

  it('read-only access shows the table without create, edit or delete controls', async () => {
    renderApp('/users', { session: { status: 'signedIn', user: user({ permissions: ['READ_USERS'] }) }, handler: () => list });
    expect(await screen.findByRole('link', { name: 'someone@example.test' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: /New user/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('link', { name: /Edit/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Delete/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('checkbox', { name: /Select/ })).not.toBeInTheDocument();
    expect(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Users' })).toBeInTheDocument();
  });

  it('full access shows create, edit, delete and bulk selection', async () => {
    renderApp('/users', {
      session: { status: 'signedIn', user: user({ permissions: ['READ_USERS', 'CREATE_USERS', 'UPDATE_USERS', 'DELETE_USERS'] }) },
      handler: () => list,
    });
    // The header's New button shows at once; the row actions once the list has loaded.
    expect(await screen.findByRole('link', { name: 'Edit someone@example.test' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'New user' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Delete someone@example.test' })).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'Select all on this page' })).toBeInTheDocument();
  });

  it('a 403 from the API shows "not allowed" without signing out', async () => {
    renderApp('/users', {
      session: { status: 'signedIn', user: user({ permissions: ['READ_USERS'] }) },
      handler: () => err(403, 'forbidden', 'READ_USERS required'),
    });
    expect(await screen.findByText('Not allowed')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeInTheDocument();
  });

  it('a signed-out visitor is sent to sign in, then back to the page they wanted', async () => {
    const { router } = renderApp('/roles?name=adm', { session: { status: 'signedOut', expired: false }, handler: () => list });
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/login');
    expect(router.state.location.state).toMatchObject({ from: '/roles?name=adm' });
  });
});
