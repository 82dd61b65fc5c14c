/** Renders its children only when the signed-in user has the permission. */
import type { ReactNode } from 'react';
import { useAuth } from './AuthContext';

export function Can({ permission, children }: { permission: string; children: ReactNode }) {
  const { can } = useAuth();
  return can(permission) ? <>{children}</> : null;
}
