/**
 * Sign in with email and password, or with Google / Microsoft when the server offers them
 * (`GET /auth/providers`); afterwards, back to the page the user was sent from. A failed OAuth
 * sign-in comes back here as `/login?oauthError=CODE` and is explained.
 */
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { API_URL } from '../../shared/constants/api';
import { Button, Field, Notice } from '../../shared/ui/components';
import { useAsync } from '../../shared/ui/useAsync';
import { AuthCard } from './AuthCard';

const PROVIDER_LABELS: Record<string, string> = { google: 'Google', microsoft: 'Microsoft' };

/** What each `oauthError` code from the backend's callback means to the user. */
const OAUTH_ERRORS: Record<string, string> = {
  oauth_denied: 'Sign-in was cancelled at the provider.',
  oauth_state: 'That sign-in link expired or was opened in another browser. Please try again.',
  oauth_failed: "The provider's sign-in could not be completed. Please try again.",
  oauth_email_in_use: 'An account with this email already exists. Sign in with your password instead.',
  oauth_no_email: 'The provider did not share a verified email address, which this app needs.',
  account_disabled: 'Your account is disabled',
};

function readProviders(raw: unknown): string[] {
  const list = (raw as { providers?: unknown } | null)?.providers;
  return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string' && p in PROVIDER_LABELS) : [];
}

export interface FromState {
  from?: string;
  expired?: boolean;
  message?: string;
}

export function SignIn() {
  const { signIn, state, client } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as FromState | null)?.from ?? '/';
  const expired = (location.state as FromState | null)?.expired;
  const message = (location.state as FromState | null)?.message;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [params] = useSearchParams();
  const oauthError = params.get('oauthError');
  // No buttons when the list cannot be read: password sign-in still works.
  const providers = useAsync(async (signal) => readProviders(await client.get('/auth/providers', { signal })), []);
  const offered = providers.state.status === 'done' ? providers.state.data : [];

  if (state.status === 'signedIn' && !busy) return <Navigate to={from} replace />;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
      navigate(from, { replace: true });
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  }

  return (
    <AuthCard
      title="Sign in"
      footer={
        <p>
          No account yet? <Link to="/signup">Create one</Link>
        </p>
      }
    >
      {expired && <Notice kind="info">Your session has ended. Sign in again to continue.</Notice>}
      {message && <Notice kind="success">{message}</Notice>}
      {oauthError && <Notice kind="error">{OAUTH_ERRORS[oauthError] ?? OAUTH_ERRORS.oauth_failed}</Notice>}
      {error && (
        <Notice kind="error">
          <p>{error.message}</p>
        </Notice>
      )}
      <form onSubmit={onSubmit} className="form" noValidate>
        <Field label="Email" name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} error={error?.fields.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={error?.fields.password}
        />
        <Button type="submit" variant="primary" busy={busy} className="btn-block">
          Sign in
        </Button>
      </form>
      {offered.length > 0 && (
        <div className="oauth-buttons">
          <p className="oauth-divider">or</p>
          {offered.map((p) => (
            // A full-page navigation: the backend redirects to the provider's consent page.
            <a key={p} className="btn btn-block" href={`${API_URL}/auth/signin/${p}`}>
              Continue with {PROVIDER_LABELS[p]}
            </a>
          ))}
        </div>
      )}
      <p className="auth-links">
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
    </AuthCard>
  );
}
