/**
 * The sign-in page's OAuth part, through the real routes and client against a fake backend:
 * a button per provider the server offers (a plain link to the backend's start route), none
 * when it offers none or the list fails, and a readable message for each `oauthError` the
 * backend's callback redirects with.
 */
import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { err, type FakeRequest } from '../../test/fakeServer';
import { renderApp } from '../../test/renderApp';

const signedOut = { status: 'signedOut', expired: false } as const;

function offering(providers: unknown) {
  return (req: FakeRequest) => (req.path === '/auth/providers' ? { status: 200, body: providers } : err(401, 'unauthorized', 'no session'));
}

describe('sign in with a provider', () => {
  it('shows a button for each provider the server offers, linking to its start route', async () => {
    const { calls } = renderApp('/login', { session: signedOut, handler: offering({ providers: ['google'] }) });
    const google = await screen.findByRole('link', { name: 'Continue with Google' });
    expect(google).toHaveAttribute('href', '/api/auth/signin/google');
    expect(screen.queryByRole('link', { name: /Microsoft/ })).not.toBeInTheDocument();
    // A public route: asking for it never starts a refresh.
    expect(calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(0);
  });

  it('shows no provider buttons when none is configured or the list cannot be read', async () => {
    const { calls, unmount } = renderApp('/login', { session: signedOut, handler: offering({ providers: [] }) });
    await waitFor(() => expect(calls.some((c) => c.path === '/auth/providers')).toBe(true));
    expect(screen.queryByRole('link', { name: /Continue with/ })).not.toBeInTheDocument();
    unmount();

    renderApp('/login', { session: signedOut, handler: () => err(500, 'internal', 'boom') });
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: /Continue with/ })).not.toBeInTheDocument();
  });

  it('explains a failed provider sign-in from the callback', async () => {
    renderApp('/login?oauthError=oauth_email_in_use', { session: signedOut, handler: offering({ providers: ['google', 'microsoft'] }) });
    expect(await screen.findByText(/An account with this email already exists/)).toBeInTheDocument();
    expect(await screen.findByRole('link', { name: 'Continue with Microsoft' })).toHaveAttribute('href', '/api/auth/signin/microsoft');
  });

  it('an unknown error code still says the sign-in failed', async () => {
    renderApp('/login?oauthError=something_new', { session: signedOut, handler: offering({ providers: [] }) });
    expect(await screen.findByText(/could not be completed/)).toBeInTheDocument();
  });
});
