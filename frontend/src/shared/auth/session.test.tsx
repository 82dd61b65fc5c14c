/**
 * The session as a user lives it, through the real routes, client and forms against a fake
 * backend: a session that ends mid-use (the refresh is refused) lands on the sign-in page with
 * a notice and returns to the page afterwards; the profile's password form shows the API's
 * field error next to the field and catches a mismatch before sending anything.
 */
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { err, type FakeRequest } from '../../test/fakeServer';
import { renderApp, user } from '../../test/renderApp';

const admin = user({ role: { id: 'r-admin', name: 'Administrator', globalAccess: true } });
const roles = { status: 200, body: { rows: [{ id: 'r1', name: 'Auditor', globalAccess: false }], count: 1 } };

describe('session', () => {
  it('a session that ends mid-use goes to sign in with a notice, then back to the page', async () => {
    let signedIn = false;
    const { router, calls } = renderApp('/roles?name=aud', {
      session: { status: 'signedIn', user: admin },
      handler: (req: FakeRequest) => {
        if (req.path === '/auth/signin/local') {
          signedIn = req.body !== undefined && (req.body as { password?: string }).password === 'right-pass';
          return signedIn ? { status: 200, body: { ok: true } } : err(401, 'invalid_credentials', 'Wrong email or password');
        }
        // Before signing in again every call, the refresh included, is refused.
        if (!signedIn) return err(401, 'unauthorized', 'session expired');
        if (req.path === '/auth/me') return { status: 200, body: admin };
        return roles;
      },
    });

    expect(await screen.findByRole('heading', { level: 1, name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByText('Your session has ended. Sign in again to continue.')).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/login');
    // One refresh attempt, then no more requests while signed out.
    expect(calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(1);

    await userEvent.type(screen.getByLabelText('Email'), 'jane@example.test');
    await userEvent.type(screen.getByLabelText('Password'), 'right-pass');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('link', { name: 'Auditor' })).toBeInTheDocument();
    expect(router.state.location.pathname + router.state.location.search).toBe('/roles?name=aud');
    expect(screen.queryByText(/Your session has ended/)).not.toBeInTheDocument();
  });

  it('a wrong sign-in shows the server message and stays on the form', async () => {
    renderApp('/login', {
      session: { status: 'signedOut', expired: false },
      handler: () => err(401, 'invalid_credentials', "Sorry, we don't recognize your credentials"),
    });
    await userEvent.type(await screen.findByLabelText('Email'), 'jane@example.test');
    await userEvent.type(screen.getByLabelText('Password'), 'nope');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText("Sorry, we don't recognize your credentials")).toBeInTheDocument();
    expect(screen.getByLabelText('Email')).toHaveValue('jane@example.test');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeEnabled();
  });
});

describe('profile: change password', () => {
  it("shows the API's 422 next to the current-password field", async () => {
    const { calls } = renderApp('/profile', {
      session: { status: 'signedIn', user: user() },
      handler: (req) =>
        req.path === '/auth/password-update' ? err(422, 'validation_failed', 'currentPassword is not correct') : { status: 200, body: user() },
    });
    const current = await screen.findByLabelText('Current password');
    await userEvent.type(current, 'wrong-pass');
    await userEvent.type(screen.getByLabelText(/^New password/), 'New-pass-123');
    await userEvent.type(screen.getByLabelText('Repeat the new password'), 'New-pass-123');
    await userEvent.click(screen.getByRole('button', { name: 'Change password' }));

    await waitFor(() => expect(current).toHaveAttribute('aria-invalid', 'true'));
    expect(current).toHaveAccessibleDescription(/currentPassword is not correct/);
    expect(screen.getByLabelText(/^New password/)).not.toHaveAttribute('aria-invalid');
    expect(screen.queryByText('Password changed.')).not.toBeInTheDocument();
    expect(calls.find((c) => c.path === '/auth/password-update')?.body).toEqual({ currentPassword: 'wrong-pass', newPassword: 'New-pass-123' });
  });

  it('catches two different new passwords before sending anything', async () => {
    const { calls } = renderApp('/profile', { session: { status: 'signedIn', user: user() }, handler: () => ({ status: 200, body: user() }) });
    await userEvent.type(await screen.findByLabelText('Current password'), 'old-pass-123');
    await userEvent.type(screen.getByLabelText(/^New password/), 'New-pass-123');
    await userEvent.type(screen.getByLabelText('Repeat the new password'), 'New-pass-124');
    await userEvent.click(screen.getByRole('button', { name: 'Change password' }));

    const confirm = screen.getByLabelText('Repeat the new password');
    await waitFor(() => expect(confirm).toHaveAttribute('aria-invalid', 'true'));
    expect(confirm).toHaveAccessibleDescription(/The two passwords differ\./);
    expect(calls.filter((c) => c.path === '/auth/password-update')).toHaveLength(0);
  });
});
