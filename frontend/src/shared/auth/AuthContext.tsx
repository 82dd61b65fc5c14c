/**
 * The session as the UI knows it: loads `/me` once, exposes sign in / up / out, and turns a
 * failed refresh (reported by the HTTP client) into "signed out, session expired" so the
 * route guard sends the user to /login and back to where they were.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api as defaultClient, type HttpClient } from '../api/client';
import { ApiError, toApiError } from '../api/errors';
import { can } from './permissions';
import { parseMe, type CurrentUser } from './types';

export type AuthState =
  | { status: 'loading' }
  | { status: 'error'; error: ApiError }
  | { status: 'signedOut'; expired: boolean }
  | { status: 'signedIn'; user: CurrentUser };

export interface SignUpInput {
  email: string;
  password: string;
  firstName?: string;
  lastName?: string;
}

export interface AuthContextValue {
  state: AuthState;
  user: CurrentUser | null;
  client: HttpClient;
  signIn(email: string, password: string): Promise<void>;
  signUp(input: SignUpInput): Promise<void>;
  signOut(): Promise<void>;
  reload(): Promise<void>;
  can(permission: string): boolean;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({
  children,
  client = defaultClient,
  initialState,
}: {
  children: ReactNode;
  client?: HttpClient;
  /** Tests start from a known session instead of calling /me. */
  initialState?: AuthState;
}) {
  const [state, setState] = useState<AuthState>(initialState ?? { status: 'loading' });

  const reload = useCallback(async () => {
    try {
      const me = await client.get<unknown>('/auth/me');
      setState({ status: 'signedIn', user: parseMe(me) });
    } catch (e) {
      const err = toApiError(e);
      if (err.status === 401) setState((prev) => ({ status: 'signedOut', expired: prev.status === 'signedIn' }));
      else setState({ status: 'error', error: err });
    }
  }, [client]);

  useEffect(() => {
    client.setOnSessionLost(() =>
      setState((prev) => (prev.status === 'signedIn' ? { status: 'signedOut', expired: true } : prev)),
    );
    return () => client.setOnSessionLost(undefined);
  }, [client]);

  useEffect(() => {
    // The first /me; its result arrives asynchronously, after this effect returns.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (!initialState) void reload();
  }, [reload, initialState]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      await client.post('/auth/signin/local', { email, password });
      await reload();
    },
    [client, reload],
  );

  const signUp = useCallback(
    async (input: SignUpInput) => {
      await client.post('/auth/signup', input);
      await reload();
    },
    [client, reload],
  );

  const signOut = useCallback(async () => {
    try {
      await client.post('/auth/signout');
    } finally {
      setState({ status: 'signedOut', expired: false });
    }
  }, [client]);

  const value = useMemo<AuthContextValue>(() => {
    const user = state.status === 'signedIn' ? state.user : null;
    return { state, user, client, signIn, signUp, signOut, reload, can: (p) => can(user, p) };
  }, [state, client, signIn, signUp, signOut, reload]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth must be used inside <AuthProvider>');
  return ctx;
}
