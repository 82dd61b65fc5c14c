/**
 * Loads data for a page: loading, error and retry states in one place, so no page can
 * render blank on a failed request. Stale responses (after deps change) are dropped.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { toApiError, type ApiError } from '../api/errors';

export type AsyncState<T> =
  | { status: 'loading'; data?: T }
  | { status: 'error'; error: ApiError; data?: T }
  | { status: 'done'; data: T };

export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]) {
  const [state, setState] = useState<AsyncState<T>>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });

  useEffect(() => {
    const ctrl = new AbortController();
    // Keep showing the previous data while the next page loads (no flicker to a spinner).
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setState((prev) => ({ status: 'loading', data: prev.data }));
    loadRef.current(ctrl.signal).then(
      (data) => {
        if (!ctrl.signal.aborted) setState({ status: 'done', data });
      },
      (e: unknown) => {
        if (!ctrl.signal.aborted) setState((prev) => ({ status: 'error', error: toApiError(e), data: prev.data }));
      },
    );
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, attempt]);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  return { state, retry };
}
