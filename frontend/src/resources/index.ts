/**
 * The admin resources, described once: which fields each has, which appear in the table,
 * can be sorted or filtered, and how they are edited. The list, form and view pages are
 * generic over these descriptions, as the backend's CRUD is generic over its entities.
 */
export type ResourceKey = 'users' | 'roles' | 'permissions';

export type FieldType = 'text' | 'email' | 'tel' | 'password' | 'boolean' | 'relation' | 'relationMany' | 'datetime';

export interface ResourceField {
  name: string;
  label: string;
  type: FieldType;
  required?: boolean;
  /** Shown as a table column. */
  inList?: boolean;
  sortable?: boolean;
  /** Offered as a filter (case-insensitive substring on text fields). */
  filterable?: boolean;
  /** 'always' (default for editable fields), 'create' (only when creating), or 'never' (read-only). */
  editable?: 'always' | 'create' | 'never';
  /** Shown on the view page (default true, except passwords). */
  inView?: boolean;
  relation?: ResourceKey;
  hint?: string;
  autoComplete?: string;
}

export interface ResourceDef {
  key: ResourceKey;
  title: string;
  singular: string;
  /** Suffix of the permissions guarding it: READ_USERS, CREATE_USERS, ... */
  permission: string;
  /** The field the search box filters on. */
  searchField: string;
  fields: ResourceField[];
  label(row: Row): string;
}

export type Row = Record<string, unknown> & { id: string };

const createdAt: ResourceField = {
  name: 'createdAt',
  label: 'Created',
  type: 'datetime',
  inList: true,
  sortable: true,
  editable: 'never',
};

export const resources: Record<ResourceKey, ResourceDef> = {
  users: {
    key: 'users',
    title: 'Users',
    singular: 'User',
    permission: 'USERS',
    searchField: 'email',
    label: (r) => String(r.email ?? r.id),
    fields: [
      { name: 'email', label: 'Email', type: 'email', required: true, inList: true, sortable: true, filterable: true, autoComplete: 'off' },
      { name: 'firstName', label: 'First name', type: 'text', inList: true, sortable: true, filterable: true },
      { name: 'lastName', label: 'Last name', type: 'text', inList: true, sortable: true, filterable: true },
      { name: 'phoneNumber', label: 'Phone number', type: 'tel', filterable: true },
      { name: 'app_role', label: 'Role', type: 'relation', relation: 'roles', inList: true },
      { name: 'custom_permissions', label: 'Custom permissions', type: 'relationMany', relation: 'permissions' },
      { name: 'disabled', label: 'Disabled', type: 'boolean', inList: true },
      { name: 'emailVerified', label: 'Email verified', type: 'boolean', editable: 'never' },
      {
        name: 'password',
        label: 'Password',
        type: 'password',
        inView: false,
        autoComplete: 'new-password',
        hint: 'At least 8 characters. When editing, leave empty to keep the current password.',
      },
      createdAt,
    ],
  },
  roles: {
    key: 'roles',
    title: 'Roles',
    singular: 'Role',
    permission: 'ROLES',
    searchField: 'name',
    label: (r) => String(r.name ?? r.id),
    fields: [
      { name: 'name', label: 'Name', type: 'text', required: true, inList: true, sortable: true, filterable: true },
      { name: 'globalAccess', label: 'Global access', type: 'boolean', inList: true, hint: 'Passes every permission check.' },
      { name: 'permissions', label: 'Permissions', type: 'relationMany', relation: 'permissions' },
      createdAt,
    ],
  },
  permissions: {
    key: 'permissions',
    title: 'Permissions',
    singular: 'Permission',
    permission: 'PERMISSIONS',
    searchField: 'name',
    label: (r) => String(r.name ?? r.id),
    fields: [
      { name: 'name', label: 'Name', type: 'text', required: true, inList: true, sortable: true, filterable: true, hint: 'e.g. READ_REPORTS' },
      createdAt,
    ],
  },
};

export const resourceList: ResourceDef[] = [resources.users, resources.roles, resources.permissions];

export interface Option {
  id: string;
  label: string;
}

/** A relation value as the API returns it (an object, an id, or null) → an option. */
export function toOption(v: unknown): Option | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string') return { id: v, label: v };
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o.id === undefined) return null;
    const label = o.label ?? o.name ?? o.email ?? o.id;
    return { id: String(o.id), label: String(label) };
  }
  return null;
}

export function toOptions(v: unknown): Option[] {
  return Array.isArray(v) ? v.map(toOption).filter((o): o is Option => o !== null) : [];
}

/** How a value reads in a table cell or on the view page. */
export function displayValue(field: ResourceField, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  switch (field.type) {
    case 'boolean':
      return v === true || v === 'true' ? 'Yes' : 'No';
    case 'datetime': {
      const d = new Date(String(v));
      return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString();
    }
    case 'relation':
      return toOption(v)?.label ?? '—';
    case 'relationMany': {
      const labels = toOptions(v).map((o) => o.label);
      return labels.length ? labels.join(', ') : '—';
    }
    default:
      return String(v);
  }
}
