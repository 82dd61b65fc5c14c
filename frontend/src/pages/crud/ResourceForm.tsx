/**
 * Create and edit forms for a resource. Sends `POST /{res}` `{data}` or
 * `PUT /{res}/:id` `{id,data}`; a 422 puts each message next to its field, anything else
 * shows above the form; nothing typed is lost on an error.
 */
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { toApiError, type ApiError } from '../../shared/api/errors';
import { Button, ErrorState, Field, PageHeader, Spinner } from '../../shared/ui/components';
import { RelationPicker } from '../../shared/ui/RelationPicker';
import { useAsync } from '../../shared/ui/useAsync';
import type { Option, ResourceDef, Row } from '../../resources';
import { editableIn, initialValues, toPayload, type Value, type Values } from '../../resources/payload';

export function ResourceForm({ resource, mode }: { resource: ResourceDef; mode: 'create' | 'edit' }) {
  const { id } = useParams();
  const { client } = useAuth();
  const { state, retry } = useAsync(
    async (signal) => (mode === 'edit' && id ? await client.get<Row>(`/${resource.key}/${encodeURIComponent(id)}`, { signal }) : null),
    [resource.key, id, mode],
  );

  const title = mode === 'create' ? `New ${resource.singular.toLowerCase()}` : `Edit ${resource.singular.toLowerCase()}`;
  if (state.status === 'loading') return <Spinner />;
  if (state.status === 'error')
    return (
      <>
        <PageHeader title={title} />
        <ErrorState error={state.error} onRetry={retry} />
      </>
    );
  return <FormBody key={id ?? 'new'} resource={resource} mode={mode} row={state.data} title={title} />;
}

function FormBody({ resource, mode, row, title }: { resource: ResourceDef; mode: 'create' | 'edit'; row: Row | null; title: string }) {
  const { client } = useAuth();
  const navigate = useNavigate();
  const [values, setValues] = useState<Values>(() => initialValues(resource, row));
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const fields = resource.fields.filter((f) => editableIn(f, mode));

  function set(name: string, v: Value) {
    setValues((prev) => ({ ...prev, [name]: v }));
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setSaving(true);
    setError(null);
    const data = toPayload(resource, values, mode);
    try {
      const saved =
        mode === 'create'
          ? await client.post<Row | undefined>(`/${resource.key}`, { data })
          : await client.put<Row | undefined>(`/${resource.key}/${encodeURIComponent(row!.id)}`, { id: row!.id, data });
      const savedId = saved && typeof saved === 'object' && 'id' in saved ? String(saved.id) : row?.id;
      navigate(savedId ? `/${resource.key}/${savedId}` : `/${resource.key}`, {
        state: { flash: `${resource.singular} ${mode === 'create' ? 'created' : 'saved'}.` },
      });
    } catch (err) {
      setError(toApiError(err));
      setSaving(false);
    }
  }

  const fieldErrors = error?.fields ?? {};
  const unplaced = error && Object.keys(fieldErrors).filter((k) => !fields.some((f) => f.name === k));
  return (
    <section>
      <PageHeader title={title} />
      <form className="card form" onSubmit={onSubmit} noValidate aria-describedby={error ? 'form-error' : undefined}>
        {error && (
          <div id="form-error" className="notice notice-error" role="alert">
            <p className="notice-title">{error.status === 422 ? 'Please fix the highlighted fields.' : 'Could not save.'}</p>
            {(error.status !== 422 || Object.keys(fieldErrors).length === 0 || (unplaced && unplaced.length > 0)) && <p>{error.message}</p>}
          </div>
        )}
        {fields.map((f) => {
          const err = fieldErrors[f.name];
          if (f.type === 'relation')
            return (
              <RelationPicker
                key={f.name}
                label={f.label}
                resource={f.relation!}
                value={(values[f.name] as Option | null) ?? null}
                onChange={(v) => set(f.name, v)}
                error={err}
              />
            );
          if (f.type === 'relationMany')
            return (
              <RelationPicker
                key={f.name}
                multiple
                label={f.label}
                resource={f.relation!}
                value={(values[f.name] as Option[]) ?? []}
                onChange={(v) => set(f.name, v)}
                error={err}
              />
            );
          if (f.type === 'boolean')
            return (
              <Field
                key={f.name}
                type="checkbox"
                name={f.name}
                label={f.label}
                hint={f.hint}
                checked={values[f.name] === true}
                onChange={(e) => set(f.name, e.target.checked)}
                error={err}
              />
            );
          return (
            <Field
              key={f.name}
              name={f.name}
              type={f.type}
              label={f.required ? `${f.label} (required)` : f.label}
              required={f.required && !(f.type === 'password' && mode === 'edit')}
              hint={f.hint}
              autoComplete={f.autoComplete}
              value={String(values[f.name] ?? '')}
              onChange={(e) => set(f.name, e.target.value)}
              error={err}
            />
          );
        })}
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={saving}>
            {mode === 'create' ? `Create ${resource.singular.toLowerCase()}` : 'Save changes'}
          </Button>
          <Link className="btn btn-secondary" to={row ? `/${resource.key}/${row.id}` : `/${resource.key}`}>
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
