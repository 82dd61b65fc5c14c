/**
 * Permission checks from `/me`: a global-access role passes everything, otherwise the
 * effective permission names (role + custom) decide. Used to hide what a user may not do;
 * the backend still enforces every rule.
 */
import type { CurrentUser } from './types';

export type Action = 'CREATE' | 'READ' | 'UPDATE' | 'DELETE';

export function permissionName(action: Action, resource: string): string {
  return `${action}_${resource.toUpperCase()}`;
}

export function can(user: CurrentUser | null, permission: string): boolean {
  if (!user) return false;
  if (user.role?.globalAccess) return true;
  return user.permissions.includes(permission);
}
