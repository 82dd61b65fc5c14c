/** The signed-in user's own profile (names, phone) and password change. */
import { useState, type FormEvent } from 'react';
import { useAuth } from '../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../shared/api/errors';
import { Button, Field, Notice, PageHeader } from '../shared/ui/components';
import { EmailVerificationNotice } from './EmailVerificationNotice';

function ProfileForm() {
  const { user, client, reload } = useAuth();
  const [form, setForm] = useState({
    firstName: user?.firstName ?? '',
    lastName: user?.lastName ?? '',
    phoneNumber: user?.phoneNumber ?? '',
  });
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setSaved(false);
    setError(null);
    try {
      const blankToNull = (v: string) => (v.trim() === '' ? null : v.trim());
      await client.put('/auth/profile', {
        profile: { firstName: blankToNull(form.firstName), lastName: blankToNull(form.lastName), phoneNumber: blankToNull(form.phoneNumber) },
      });
      await reload();
      setSaved(true);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  const f = error?.fields ?? {};
  return (
    <form className="card form" onSubmit={onSubmit} noValidate aria-labelledby="profile-h">
      <h2 id="profile-h">Your details</h2>
      {saved && <Notice kind="success">Profile saved.</Notice>}
      {error && (error.status !== 422 || Object.keys(f).length === 0) && <Notice kind="error">{error.message}</Notice>}
      <Field label="Email" name="email" type="email" value={user?.email ?? ''} readOnly hint="Your sign-in address; an administrator can change it." />
      <Field label="First name" name="firstName" autoComplete="given-name" value={form.firstName} onChange={(e) => setForm({ ...form, firstName: e.target.value })} error={f.firstName} />
      <Field label="Last name" name="lastName" autoComplete="family-name" value={form.lastName} onChange={(e) => setForm({ ...form, lastName: e.target.value })} error={f.lastName} />
      <Field label="Phone number" name="phoneNumber" type="tel" autoComplete="tel" value={form.phoneNumber} onChange={(e) => setForm({ ...form, phoneNumber: e.target.value })} error={f.phoneNumber} />
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          Save profile
        </Button>
      </div>
    </form>
  );
}

function PasswordForm() {
  const { client, reload } = useAuth();
  const [form, setForm] = useState({ currentPassword: '', newPassword: '', confirm: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (form.newPassword !== form.confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setBusy(true);
    setError(null);
    try {
      await client.put('/auth/password-update', { currentPassword: form.currentPassword, newPassword: form.newPassword });
      setForm({ currentPassword: '', newPassword: '', confirm: '' });
      setDone(true);
      // A password change ends sessions; if it ended this one too, /me fails and the route
      // guard asks for the new password at /login.
      await reload();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  const f = error?.fields ?? {};
  return (
    <form className="card form" onSubmit={onSubmit} noValidate aria-labelledby="password-h">
      <h2 id="password-h">Change password</h2>
      {done && <Notice kind="success">Password changed.</Notice>}
      {error && (error.status !== 422 || Object.keys(f).length === 0) && <Notice kind="error">{error.message}</Notice>}
      <Field
        label="Current password"
        name="currentPassword"
        type="password"
        autoComplete="current-password"
        required
        value={form.currentPassword}
        onChange={(e) => setForm({ ...form, currentPassword: e.target.value })}
        error={f.currentPassword}
      />
      <Field
        label="New password"
        name="newPassword"
        type="password"
        autoComplete="new-password"
        required
        hint="At least 8 characters."
        value={form.newPassword}
        onChange={(e) => setForm({ ...form, newPassword: e.target.value })}
        error={f.newPassword ?? f.password}
      />
      <Field
        label="Repeat the new password"
        name="confirm"
        type="password"
        autoComplete="new-password"
        required
        value={form.confirm}
        onChange={(e) => setForm({ ...form, confirm: e.target.value })}
        error={mismatch ? 'The two passwords differ.' : undefined}
      />
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          Change password
        </Button>
      </div>
    </form>
  );
}

export function Profile() {
  return (
    <section>
      <PageHeader title="Profile" />
      <EmailVerificationNotice />
      <div className="grid-2">
        <ProfileForm />
        <PasswordForm />
      </div>
    </section>
  );
}
