import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { err } from '../../test/fakeServer';
import { renderApp, user } from '../../test/renderApp';

const admin = user({ role: { id: 'r-admin', name: 'Administrator', globalAccess: true } });

describe('create/edit forms', () => {
  it("shows the API's 422 message next to the named field and keeps what was typed", async () => {
    const { calls } = renderApp('/users/new', {
      session: { status: 'signedIn', user: admin },
      handler: (req) => (req.method === 'POST' ? err(422, 'validation_failed', 'email must be a valid email address') : { status: 200, body: [] }),
    });
    const email = await screen.findByLabelText('Email (required)');
    await userEvent.type(email, 'not-an-email');
    await userEvent.type(screen.getByLabelText('First name'), 'Ann');
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));

    await waitFor(() => expect(email).toHaveAttribute('aria-invalid', 'true'));
    expect(email).toHaveAccessibleDescription(/email must be a valid email address/);
    expect(screen.getByText('Please fix the highlighted fields.')).toBeInTheDocument();
    expect(email).toHaveValue('not-an-email');
    expect(screen.getByLabelText('First name')).toHaveValue('Ann');
    // Other fields are not marked.
    expect(screen.getByLabelText('First name')).not.toHaveAttribute('aria-invalid');
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.path).toBe('/users');
    expect(post.body).toMatchObject({ data: { email: 'not-an-email', firstName: 'Ann', lastName: null, disabled: false } });
    expect((post.body as { data: Record<string, unknown> }).data).not.toHaveProperty('password');
  });

  it('shows a non-field error above the form (409 duplicate email)', async () => {
    renderApp('/users/new', {
      session: { status: 'signedIn', user: admin },
      handler: (req) => (req.method === 'POST' ? err(409, 'conflict', 'A user with this email already exists') : { status: 200, body: [] }),
    });
    await userEvent.type(await screen.findByLabelText('Email (required)'), 'dup@example.test');
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByText('A user with this email already exists')).toBeInTheDocument();
    expect(screen.getByText('Could not save.')).toBeInTheDocument();
  });

  it('edits with PUT {id,data} and returns to the record', async () => {
    const row = { id: 'abc', email: 'old@example.test', firstName: 'Old', lastName: null, disabled: false, app_role: { id: 'r1', name: 'User' } };
    const { calls, router } = renderApp('/users/abc/edit', {
      session: { status: 'signedIn', user: admin },
      handler: (req) => {
        if (req.method === 'PUT') return { status: 200, body: { ...row, ...(req.body as { data: object }).data } };
        if (req.path === '/users/abc') return { status: 200, body: row };
        return { status: 200, body: [] };
      },
    });
    const first = await screen.findByLabelText('First name');
    expect(first).toHaveValue('Old');
    await userEvent.clear(first);
    await userEvent.type(first, 'New');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(router.state.location.pathname).toBe('/users/abc'));
    const put = calls.find((c) => c.method === 'PUT')!;
    expect(put.path).toBe('/users/abc');
    expect(put.body).toMatchObject({ id: 'abc', data: { firstName: 'New', app_role: 'r1', email: 'old@example.test' } });
  });

  it('a failed load shows the error and a retry that works', async () => {
    let fail = true;
    renderApp('/users/abc', {
      session: { status: 'signedIn', user: admin },
      handler: (req) => {
        if (req.path === '/users/abc') {
          if (fail) return err(500, 'internal', 'Internal error');
          return { status: 200, body: { id: 'abc', email: 'x@example.test' } };
        }
        return { status: 200, body: [] };
      },
    });
    expect(await screen.findByText('Internal error')).toBeInTheDocument();
    fail = false;
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'x@example.test' })).toBeInTheDocument();
  });
});
