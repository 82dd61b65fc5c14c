/**
 * Route guards. RequireAuth sends a signed-out visitor to /login, remembering the page, and
 * shows loading / unreachable-server states instead of a blank page. RequirePermission shows
 * "not allowed" for a page the user's permissions exclude, without signing out.
 */
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from './AuthContext';
import { ErrorState, PageHeader, Spinner } from '../ui/components';

export function RequireAuth({ children }: { children: ReactNode }) {
  const { state, reload } = useAuth();
  const location = useLocation();
  if (state.status === 'loading')
    return (
      <main id="main" className="center-page">
        <Spinner label="Loading your session…" />
      </main>
    );
  if (state.status === 'error')
    return (
      <main id="main" className="center-page">
        <ErrorState error={state.error} onRetry={() => void reload()} title="Cannot load your session" />
      </main>
    );
  if (state.status === 'signedOut')
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search, expired: state.expired }} />;
  return <>{children}</>;
}

export function NotAllowed() {
  return (
    <section>
      <PageHeader title="Not allowed" />
      <div className="notice notice-warn" role="alert">
        <p className="notice-title">Not allowed</p>
        <p>Your role does not give you access to this page. Ask an administrator if you need it.</p>
      </div>
    </section>
  );
}

export function RequirePermission({ permission, children }: { permission: string; children: ReactNode }) {
  const { can } = useAuth();
  return can(permission) ? <>{children}</> : <NotAllowed />;
}
