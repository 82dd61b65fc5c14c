/** Offers to (re)send the verification email when email is configured and the address is unverified. */
import { useState } from 'react';
import { useAuth } from '../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../shared/api/errors';
import { Button, Notice } from '../shared/ui/components';
import { useAsync } from '../shared/ui/useAsync';

function readConfigured(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const r = (raw ?? {}) as Record<string, unknown>;
  return r.configured === true || r.emailConfigured === true || r.email_configured === true;
}

export function EmailVerificationNotice() {
  const { user, client } = useAuth();
  const [sending, setSending] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const unverified = !!user && !user.emailVerified;
  const { state } = useAsync(async (signal) => (unverified ? readConfigured(await client.get('/auth/email-configured', { signal })) : false), [unverified]);
  if (!unverified || state.status !== 'done' || !state.data) return null;

  async function send() {
    setSending(true);
    setError(null);
    try {
      await client.post('/auth/send-email-address-verification-email');
      setSent(true);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setSending(false);
    }
  }

  return (
    <Notice kind={error ? 'error' : 'info'}>
      {sent ? (
        <p>Verification email sent. Follow its link to confirm {user.email}.</p>
      ) : (
        <>
          <p>Your email address is not verified yet.{error ? ` ${error.message}` : ''}</p>
          <Button onClick={send} busy={sending}>
            Send verification email
          </Button>
        </>
      )}
    </Notice>
  );
}
