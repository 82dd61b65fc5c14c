/** Ask for a reset link. The answer is the same whether the account exists or not. */
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { Button, Field, Notice } from '../../shared/ui/components';
import { AuthCard } from './AuthCard';

export function ForgotPassword() {
  const { client } = useAuth();
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const [missing, setMissing] = useState(false);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (email.trim() === '') {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    try {
      await client.post('/auth/send-password-reset-email', { email: email.trim() });
      setSent(true);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Reset your password" footer={<Link to="/login">Back to sign in</Link>}>
      {sent ? (
        <Notice kind="success">If an account exists for {email.trim()}, we sent it a link to reset the password. Check your inbox.</Notice>
      ) : (
        <>
          <p>Enter your email and we will send you a link to choose a new password.</p>
          {error && error.status !== 422 && <Notice kind="error">{error.message}</Notice>}
          <form onSubmit={onSubmit} className="form" noValidate>
            <Field label="Email" name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={missing ? 'Enter the email address of your account.' : (error?.fields.email ?? (error?.status === 422 ? error.message : undefined))} />
            <Button type="submit" variant="primary" busy={busy} className="btn-block">
              Send reset link
            </Button>
          </form>
        </>
      )}
    </AuthCard>
  );
}
