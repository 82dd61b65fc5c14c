/** The signed-in user as `/api/auth/me` describes it. */
export interface Role {
  id: string;
  name: string;
  globalAccess: boolean;
}

export interface CurrentUser {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  phoneNumber: string | null;
  emailVerified: boolean;
  role: Role | null;
  permissions: string[];
}

function s(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Reads /me leniently: permissions may be names or `{name}` objects. */
export function parseMe(raw: unknown): CurrentUser {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const roleRaw = (r.role ?? r.app_role) as Record<string, unknown> | null | undefined;
  const perms = Array.isArray(r.permissions) ? r.permissions : [];
  return {
    id: String(r.id ?? ''),
    email: String(r.email ?? ''),
    firstName: s(r.firstName),
    lastName: s(r.lastName),
    phoneNumber: s(r.phoneNumber),
    emailVerified: r.emailVerified === true,
    role:
      roleRaw && typeof roleRaw === 'object'
        ? {
            id: String(roleRaw.id ?? ''),
            name: String(roleRaw.name ?? ''),
            globalAccess: roleRaw.globalAccess === true,
          }
        : null,
    permissions: perms
      .map((p) => (typeof p === 'string' ? p : typeof p === 'object' && p !== null ? s((p as Record<string, unknown>).name) : null))
      .filter((p): p is string => !!p),
  };
}

export function displayName(u: Pick<CurrentUser, 'firstName' | 'lastName' | 'email'>): string {
  const full = [u.firstName, u.lastName].filter(Boolean).join(' ').trim();
  return full || u.email;
}
