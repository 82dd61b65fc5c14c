/** The page the reset email links to (`?token=`): choose a new password. */
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { Button, Field, Notice } from '../../shared/ui/components';
import { AuthCard } from './AuthCard';

export function ResetPassword() {
  const { client } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [mismatch, setMismatch] = useState(false);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (password !== confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setBusy(true);
    setError(null);
    try {
      await client.put('/auth/password-reset', { token, password });
      navigate('/login', { replace: true, state: { message: 'Your password was changed. Sign in with the new one.' } });
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  }

  if (!token)
    return (
      <AuthCard title="Choose a new password" footer={<Link to="/forgot-password">Request a new link</Link>}>
        <Notice kind="error">This link has no reset token. Open the link from the email again, or request a new one.</Notice>
      </AuthCard>
    );

  return (
    <AuthCard title="Choose a new password" footer={<Link to="/login">Back to sign in</Link>}>
      {error && !error.fields.password && (
        <Notice kind="error">
          {error.message} <Link to="/forgot-password">Request a new link</Link>
        </Notice>
      )}
      <form onSubmit={onSubmit} className="form" noValidate>
        <Field
          label="New password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          hint="At least 8 characters."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={error?.fields.password}
        />
        <Field
          label="Repeat the new password"
          name="confirm"
          type="password"
          autoComplete="new-password"
          required
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          error={mismatch ? 'The two passwords differ.' : undefined}
        />
        <Button type="submit" variant="primary" busy={busy} className="btn-block">
          Set password
        </Button>
      </form>
    </AuthCard>
  );
}
