/** The page the verification email links to (`?token=`): confirms the address on arrival. */
import { Link, useSearchParams } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { Button, Notice, Spinner } from '../../shared/ui/components';
import { useAsync } from '../../shared/ui/useAsync';
import { AuthCard } from './AuthCard';

// A token is single-use: remember each attempt so a re-mounted page (StrictMode, Back) does
// not spend it twice and then report the second try's "already used".
const attempts = new Map<string, Promise<unknown>>();

export function VerifyEmail() {
  const { client, state: auth, reload } = useAuth();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const { state, retry } = useAsync(async () => {
    if (!token) return false;
    let attempt = attempts.get(token);
    if (!attempt) {
      attempt = client.put('/auth/verify-email', { token });
      attempts.set(token, attempt);
      attempt.catch(() => attempts.delete(token));
    }
    await attempt;
    if (auth.status === 'signedIn') void reload();
    return true;
  }, [token]);

  return (
    <AuthCard title="Verify your email" footer={<Link to={auth.status === 'signedIn' ? '/' : '/login'}>Continue</Link>}>
      {!token && <Notice kind="error">This link has no verification token. Open the link from the email again.</Notice>}
      {token && state.status === 'loading' && <Spinner label="Verifying…" />}
      {token && state.status === 'done' && <Notice kind="success">Your email address is verified.</Notice>}
      {token && state.status === 'error' && (
        <Notice kind="error">
          <p>{state.error.message}</p>
          {state.error.isNetwork && <Button onClick={retry}>Retry</Button>}
        </Notice>
      )}
    </AuthCard>
  );
}
