/** Create an account (User role); the backend signs the new user in. */
import { useState, type ChangeEvent, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { Button, Field, Notice } from '../../shared/ui/components';
import { AuthCard } from './AuthCard';

export function SignUp() {
  const { signUp } = useAuth();
  const navigate = useNavigate();
  const [form, setForm] = useState({ email: '', password: '', firstName: '', lastName: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signUp({
        email: form.email.trim(),
        password: form.password,
        ...(form.firstName.trim() ? { firstName: form.firstName.trim() } : {}),
        ...(form.lastName.trim() ? { lastName: form.lastName.trim() } : {}),
      });
      navigate('/', { replace: true });
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  }

  const set = (k: keyof typeof form) => (e: ChangeEvent<HTMLInputElement>) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const fields = error?.fields ?? {};
  return (
    <AuthCard
      title="Create an account"
      footer={
        <p>
          Already have an account? <Link to="/login">Sign in</Link>
        </p>
      }
    >
      {error && (Object.keys(fields).length === 0 || error.status !== 422) && <Notice kind="error">{error.message}</Notice>}
      <form onSubmit={onSubmit} className="form" noValidate>
        <Field label="Email" name="email" type="email" autoComplete="email" required value={form.email} onChange={set('email')} error={fields.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          hint="At least 8 characters."
          value={form.password}
          onChange={set('password')}
          error={fields.password}
        />
        <Field label="First name" name="firstName" autoComplete="given-name" value={form.firstName} onChange={set('firstName')} error={fields.firstName} />
        <Field label="Last name" name="lastName" autoComplete="family-name" value={form.lastName} onChange={set('lastName')} error={fields.lastName} />
        <Button type="submit" variant="primary" busy={busy} className="btn-block">
          Create account
        </Button>
      </form>
    </AuthCard>
  );
}
