/**
 * The admin table for one resource: server-side pagination, column sort, search and
 * per-field filters (all kept in the URL so Back and reload keep them), CSV export of the
 * same query, row and bulk delete with confirmation. Actions the user's permissions don't
 * allow are not shown.
 */
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useAuth } from '../../shared/auth/AuthContext';
import { permissionName } from '../../shared/auth/permissions';
import { toApiError, type ApiError } from '../../shared/api/errors';
import type { Query } from '../../shared/api/client';
import { Button, ConfirmDialog, ErrorState, Notice, PageHeader, Spinner } from '../../shared/ui/components';
import { useAsync } from '../../shared/ui/useAsync';
import { displayValue, type ResourceDef, type Row } from '../../resources';

const PAGE_SIZES = [10, 20, 50, 100];

interface ListResponse {
  rows: Row[];
  count: number;
}

function readList(raw: unknown): ListResponse {
  const r = (raw ?? {}) as { rows?: unknown; count?: unknown };
  return {
    rows: Array.isArray(r.rows) ? (r.rows as Row[]) : [],
    count: typeof r.count === 'number' ? r.count : Number(r.count ?? 0) || 0,
  };
}

export function ResourceList({ resource }: { resource: ResourceDef }) {
  const { client, can } = useAuth();
  const [params, setParams] = useSearchParams();
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const limit = PAGE_SIZES.includes(Number(params.get('limit'))) ? Number(params.get('limit')) : 10;
  const field = params.get('field') ?? '';
  const sort = params.get('sort') === 'asc' || params.get('sort') === 'desc' ? params.get('sort')! : '';
  const filterFields = resource.fields.filter((f) => f.filterable);
  const filters: Query = {};
  for (const f of filterFields) {
    const v = params.get(f.name);
    if (v) filters[f.name] = v;
  }
  const query: Query = { ...filters, field: field || undefined, sort: field ? sort || 'asc' : undefined };

  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirm, setConfirm] = useState<{ ids: string[]; label: string } | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<ApiError | null>(null);
  const [showFilters, setShowFilters] = useState(filterFields.some((f) => f.name !== resource.searchField && params.get(f.name)));

  const key = params.toString();
  const { state, retry } = useAsync(
    async (signal) => readList(await client.get(`/${resource.key}`, { query: { ...query, limit, page }, signal })),
    [resource.key, key],
  );

  const canCreate = can(permissionName('CREATE', resource.permission));
  const canUpdate = can(permissionName('UPDATE', resource.permission));
  const canDelete = can(permissionName('DELETE', resource.permission));

  function update(changes: Record<string, string | null>, resetPage = true) {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, v);
    }
    if (resetPage) next.delete('page');
    setParams(next);
    setSelected(new Set());
  }

  function toggleSort(name: string) {
    if (field !== name) update({ field: name, sort: 'asc' });
    else if (sort === 'asc') update({ field: name, sort: 'desc' });
    else update({ field: null, sort: null });
  }

  function onFilterSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const changes: Record<string, string | null> = {};
    for (const f of filterFields) {
      const v = data.get(f.name);
      if (v !== null) changes[f.name] = String(v).trim() || null;
    }
    update(changes);
  }

  async function doDelete() {
    if (!confirm) return;
    setDeleting(true);
    setDeleteError(null);
    try {
      if (confirm.ids.length === 1) await client.del(`/${resource.key}/${encodeURIComponent(confirm.ids[0]!)}`);
      else await client.post(`/${resource.key}/deleteByIds`, { data: confirm.ids });
      setFlash(`Deleted ${confirm.label}.`);
      setConfirm(null);
      setSelected(new Set());
      retry();
    } catch (e) {
      setDeleteError(toApiError(e));
    } finally {
      setDeleting(false);
    }
  }

  async function exportCsv() {
    setExporting(true);
    setExportError(null);
    try {
      const { blob, filename } = await client.download(`/${resource.key}`, { query: { ...query, filetype: 'csv' } });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = filename ?? `${resource.key}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setExportError(toApiError(e));
    } finally {
      setExporting(false);
    }
  }

  const data = state.data;
  const rows = data?.rows ?? [];
  const count = data?.count ?? 0;
  const pages = Math.max(1, Math.ceil(count / limit));
  const columns = resource.fields.filter((f) => f.inList);
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const from = count === 0 ? 0 : page * limit + 1;
  const to = Math.min(count, page * limit + rows.length);

  return (
    <section aria-labelledby="list-title">
      <PageHeader
        title={resource.title}
        actions={
          <>
            <Button onClick={exportCsv} busy={exporting}>
              Export CSV
            </Button>
            {canCreate && (
              <Link className="btn btn-primary" to={`/${resource.key}/new`}>
                New {resource.singular.toLowerCase()}
              </Link>
            )}
          </>
        }
      />
      {flash && <Notice kind="success">{flash}</Notice>}
      {exportError && <ErrorState error={exportError} title="Export failed" onRetry={exportCsv} />}

      <form className="filters" role="search" aria-label={`Filter ${resource.title.toLowerCase()}`} onSubmit={onFilterSubmit} key={key}>
        <div className="filters-main">
          <div className="field">
            <label htmlFor={`search-${resource.key}`}>Search by {resource.fields.find((f) => f.name === resource.searchField)?.label.toLowerCase()}</label>
            <input id={`search-${resource.key}`} name={resource.searchField} type="search" defaultValue={params.get(resource.searchField) ?? ''} />
          </div>
          <Button type="submit" variant="primary">
            Apply
          </Button>
          <Button aria-expanded={showFilters} aria-controls={`filters-${resource.key}`} onClick={() => setShowFilters((s) => !s)}>
            {showFilters ? 'Hide filters' : 'More filters'}
          </Button>
          {Object.keys(filters).length > 0 && (
            <Button variant="ghost" onClick={() => update(Object.fromEntries(filterFields.map((f) => [f.name, null])))}>
              Clear filters
            </Button>
          )}
        </div>
        <div id={`filters-${resource.key}`} className="filters-more" hidden={!showFilters}>
          {filterFields
            .filter((f) => f.name !== resource.searchField)
            .map((f) => (
              <div className="field" key={f.name}>
                <label htmlFor={`filter-${resource.key}-${f.name}`}>{f.label} contains</label>
                <input id={`filter-${resource.key}-${f.name}`} name={f.name} type="text" defaultValue={params.get(f.name) ?? ''} />
              </div>
            ))}
        </div>
      </form>

      {canDelete && selected.size > 0 && (
        <div className="bulk-bar" role="region" aria-label="Bulk actions">
          <span>{selected.size} selected</span>
          <Button variant="danger" onClick={() => setConfirm({ ids: [...selected], label: `${selected.size} ${resource.title.toLowerCase()}` })}>
            Delete selected
          </Button>
        </div>
      )}

      {state.status === 'error' && <ErrorState error={state.error} onRetry={retry} />}
      {state.status === 'loading' && !data && <Spinner label={`Loading ${resource.title.toLowerCase()}…`} />}
      {data && (
        <>
          <div className="table-wrap" aria-busy={state.status === 'loading'}>
            <table>
              <caption className="sr-only">
                {resource.title}, {count} in all, sorted {field ? `by ${field} ${sort || 'asc'}` : 'by default'}
              </caption>
              <thead>
                <tr>
                  {canDelete && (
                    <th scope="col" className="col-check">
                      <input
                        type="checkbox"
                        aria-label="Select all on this page"
                        checked={allSelected}
                        onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))}
                      />
                    </th>
                  )}
                  {columns.map((c) => (
                    <th
                      key={c.name}
                      scope="col"
                      aria-sort={field === c.name ? (sort === 'desc' ? 'descending' : 'ascending') : undefined}
                    >
                      {c.sortable ? (
                        <button type="button" className="sort" onClick={() => toggleSort(c.name)}>
                          {c.label}
                          <span aria-hidden="true" className="sort-mark">
                            {field === c.name ? (sort === 'desc' ? '▼' : '▲') : '↕'}
                          </span>
                          <span className="sr-only">, sort</span>
                        </button>
                      ) : (
                        c.label
                      )}
                    </th>
                  ))}
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.length === 0 && (
                  <tr>
                    <td colSpan={columns.length + 2} className="empty">
                      No {resource.title.toLowerCase()} match.
                    </td>
                  </tr>
                )}
                {rows.map((row) => {
                  const label = resource.label(row);
                  return (
                    <tr key={row.id}>
                      {canDelete && (
                        <td className="col-check">
                          <input
                            type="checkbox"
                            aria-label={`Select ${label}`}
                            checked={selected.has(row.id)}
                            onChange={() => {
                              const next = new Set(selected);
                              if (next.has(row.id)) next.delete(row.id);
                              else next.add(row.id);
                              setSelected(next);
                            }}
                          />
                        </td>
                      )}
                      {columns.map((c, i) => (
                        <td key={c.name} data-label={c.label}>
                          {i === 0 ? <Link to={`/${resource.key}/${row.id}`}>{displayValue(c, row[c.name])}</Link> : displayValue(c, row[c.name])}
                        </td>
                      ))}
                      <td className="row-actions">
                        {canUpdate && (
                          <Link className="btn btn-ghost" to={`/${resource.key}/${row.id}/edit`} aria-label={`Edit ${label}`}>
                            Edit
                          </Link>
                        )}
                        {canDelete && (
                          <Button variant="ghost" className="text-danger" aria-label={`Delete ${label}`} onClick={() => setConfirm({ ids: [row.id], label })}>
                            Delete
                          </Button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pagination">
            <span aria-live="polite">
              {from}–{to} of {count}
            </span>
            <div className="field field-inline">
              <label htmlFor={`limit-${resource.key}`}>Rows per page</label>
              <select id={`limit-${resource.key}`} value={limit} onChange={(e) => update({ limit: e.target.value })}>
                {PAGE_SIZES.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </div>
            <Button disabled={page === 0} onClick={() => update({ page: String(page - 1) }, false)}>
              Previous
            </Button>
            <span>
              Page {page + 1} of {pages}
            </span>
            <Button disabled={page + 1 >= pages} onClick={() => update({ page: String(page + 1) }, false)}>
              Next
            </Button>
          </nav>
        </>
      )}

      {confirm && (
        <ConfirmDialog
          title={`Delete ${confirm.label}?`}
          message={<p>This cannot be undone from here.</p>}
          confirmLabel="Delete"
          busy={deleting}
          error={deleteError}
          onConfirm={doDelete}
          onCancel={() => {
            setConfirm(null);
            setDeleteError(null);
          }}
        />
      )}
    </section>
  );
}
