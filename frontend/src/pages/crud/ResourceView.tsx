/** One record, read-only, with Edit and Delete when the user's permissions allow them. */
import { useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { permissionName } from '../../shared/auth/permissions';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { Button, ConfirmDialog, ErrorState, Notice, PageHeader, Spinner } from '../../shared/ui/components';
import { useAsync } from '../../shared/ui/useAsync';
import { displayValue, type ResourceDef, type Row } from '../../resources';

export function ResourceView({ resource }: { resource: ResourceDef }) {
  const { id = '' } = useParams();
  const { client, can } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const flash = (location.state as { flash?: string } | null)?.flash;
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);
  const { state, retry } = useAsync((signal) => client.get<Row>(`/${resource.key}/${encodeURIComponent(id)}`, { signal }), [resource.key, id]);

  if (state.status === 'loading') return <Spinner />;
  if (state.status === 'error')
    return (
      <>
        <PageHeader title={resource.singular} />
        <ErrorState error={state.error} onRetry={retry} />
        <p>
          <Link to={`/${resource.key}`}>Back to {resource.title.toLowerCase()}</Link>
        </p>
      </>
    );
  const row = state.data;
  const label = resource.label(row);

  async function doDelete() {
    setDeleting(true);
    setDeleteError(null);
    try {
      await client.del(`/${resource.key}/${encodeURIComponent(id)}`);
      navigate(`/${resource.key}`);
    } catch (e) {
      setDeleteError(toApiError(e));
      setDeleting(false);
    }
  }

  return (
    <section>
      <PageHeader
        title={label}
        actions={
          <>
            {can(permissionName('UPDATE', resource.permission)) && (
              <Link className="btn btn-primary" to={`/${resource.key}/${id}/edit`}>
                Edit
              </Link>
            )}
            {can(permissionName('DELETE', resource.permission)) && (
              <Button variant="danger" onClick={() => setConfirming(true)}>
                Delete
              </Button>
            )}
          </>
        }
      />
      {flash && <Notice kind="success">{flash}</Notice>}
      <dl className="card details">
        {resource.fields
          .filter((f) => f.inView !== false && f.type !== 'password')
          .map((f) => (
            <div key={f.name} className="detail">
              <dt>{f.label}</dt>
              <dd>{displayValue(f, row[f.name])}</dd>
            </div>
          ))}
      </dl>
      <p>
        <Link to={`/${resource.key}`}>Back to {resource.title.toLowerCase()}</Link>
      </p>
      {confirming && (
        <ConfirmDialog
          title={`Delete ${label}?`}
          message={<p>This cannot be undone from here.</p>}
          confirmLabel="Delete"
          busy={deleting}
          error={deleteError}
          onConfirm={doDelete}
          onCancel={() => setConfirming(false)}
        />
      )}
    </section>
  );
}
