/** The home page: who is signed in, and the counts of users and roles they may read. */
import { Link } from 'react-router';
import { useAuth } from '../shared/auth/AuthContext';
import { displayName } from '../shared/auth/types';
import { ErrorState, Notice, PageHeader, Spinner } from '../shared/ui/components';
import { useAsync } from '../shared/ui/useAsync';
import { resources, type ResourceDef } from '../resources';
import { EmailVerificationNotice } from './EmailVerificationNotice';

function readCount(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  const r = (raw ?? {}) as { count?: unknown };
  return Number(r.count ?? 0) || 0;
}

function CountCard({ resource }: { resource: ResourceDef }) {
  const { client } = useAuth();
  const { state, retry } = useAsync(async (signal) => readCount(await client.get(`/${resource.key}/count`, { signal })), [resource.key]);
  return (
    <div className="card stat">
      <h2 className="stat-label">{resource.title}</h2>
      {state.status === 'loading' && <Spinner label={`Counting ${resource.title.toLowerCase()}…`} />}
      {state.status === 'error' && <ErrorState error={state.error} onRetry={retry} />}
      {state.status === 'done' && (
        <p className="stat-value">
          <Link to={`/${resource.key}`} aria-label={`${state.data} ${resource.title.toLowerCase()}, open the list`}>
            {state.data}
          </Link>
        </p>
      )}
    </div>
  );
}

export function Dashboard() {
  const { user, can } = useAuth();
  if (!user) return null;
  const counted = [resources.users, resources.roles].filter((r) => can(`READ_${r.permission}`));
  return (
    <section>
      <PageHeader title="Dashboard" />
      <EmailVerificationNotice />
      <div className="card">
        <h2>Welcome, {displayName(user)}</h2>
        <dl className="details">
          <div className="detail">
            <dt>Email</dt>
            <dd>{user.email}</dd>
          </div>
          <div className="detail">
            <dt>Role</dt>
            <dd>{user.role?.name ?? 'No role'}</dd>
          </div>
          <div className="detail">
            <dt>Email verified</dt>
            <dd>{user.emailVerified ? 'Yes' : 'No'}</dd>
          </div>
        </dl>
        <p>
          <Link to="/profile">Edit your profile</Link>
        </p>
      </div>
      {counted.length > 0 ? (
        <div className="stats">
          {counted.map((r) => (
            <CountCard key={r.key} resource={r} />
          ))}
        </div>
      ) : (
        <Notice kind="info">Your role has no administration pages.</Notice>
      )}
    </section>
  );
}
