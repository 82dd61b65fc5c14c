/** Sign in with email and password; afterwards, back to the page the user was sent from. */
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { Button, Field, Notice } from '../../shared/ui/components';
import { AuthCard } from './AuthCard';

export interface FromState {
  from?: string;
  expired?: boolean;
  message?: string;
}

export function SignIn() {
  const { signIn, state } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as FromState | null)?.from ?? '/';
  const expired = (location.state as FromState | null)?.expired;
  const message = (location.state as FromState | null)?.message;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

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
      <p className="auth-links">
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
    </AuthCard>
  );
}
