/** Form values of a resource ↔ the `data` object of its create/update requests. */
import { toOption, toOptions, type Option, type ResourceDef, type ResourceField, type Row } from './index';

export type Value = string | boolean | Option | null | Option[];
export type Values = Record<string, Value>;

export function editableIn(f: ResourceField, mode: 'create' | 'edit'): boolean {
  const e = f.editable ?? 'always';
  return e === 'always' || (e === 'create' && mode === 'create');
}

export function initialValues(resource: ResourceDef, row: Row | null): Values {
  const v: Values = {};
  for (const f of resource.fields) {
    const raw = row?.[f.name];
    if (f.type === 'boolean') v[f.name] = raw === true;
    else if (f.type === 'relation') v[f.name] = toOption(raw);
    else if (f.type === 'relationMany') v[f.name] = toOptions(raw);
    else if (f.type === 'password') v[f.name] = '';
    else v[f.name] = raw === null || raw === undefined ? '' : String(raw);
  }
  return v;
}

/** The `data` object sent to the API: relations as ids, empty optional text as null. */
export function toPayload(resource: ResourceDef, values: Values, mode: 'create' | 'edit'): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const f of resource.fields) {
    if (!editableIn(f, mode)) continue;
    const v = values[f.name];
    if (f.type === 'relation') data[f.name] = (v as Option | null)?.id ?? null;
    else if (f.type === 'relationMany') data[f.name] = ((v as Option[]) ?? []).map((o) => o.id);
    else if (f.type === 'boolean') data[f.name] = v === true;
    else if (f.type === 'password') {
      if (typeof v === 'string' && v !== '') data[f.name] = v;
    } else {
      const s = typeof v === 'string' ? v.trim() : '';
      data[f.name] = s === '' && !f.required ? null : s;
    }
  }
  return data;
}

