/**
 * Routes. Signed-out pages load eagerly (the first thing a visitor sees); the signed-in pages
 * are split into lazy chunks so the initial bundle stays small.
 */
import { lazy, Suspense, type ReactNode } from 'react';
import { Navigate, type RouteObject } from 'react-router';
import { RequireAuth, RequirePermission } from './shared/auth/guards';
import { Spinner } from './shared/ui/components';
import { SignIn } from './pages/auth/SignIn';
import { resourceList } from './resources';

const SignUp = lazy(() => import('./pages/auth/SignUp').then((m) => ({ default: m.SignUp })));
const ForgotPassword = lazy(() => import('./pages/auth/ForgotPassword').then((m) => ({ default: m.ForgotPassword })));
const ResetPassword = lazy(() => import('./pages/auth/ResetPassword').then((m) => ({ default: m.ResetPassword })));
const VerifyEmail = lazy(() => import('./pages/auth/VerifyEmail').then((m) => ({ default: m.VerifyEmail })));
const Layout = lazy(() => import('./shared/ui/Layout').then((m) => ({ default: m.Layout })));
const Dashboard = lazy(() => import('./pages/Dashboard').then((m) => ({ default: m.Dashboard })));
const Profile = lazy(() => import('./pages/Profile').then((m) => ({ default: m.Profile })));
const NotFound = lazy(() => import('./pages/NotFound').then((m) => ({ default: m.NotFound })));
const ResourceList = lazy(() => import('./pages/crud/ResourceList').then((m) => ({ default: m.ResourceList })));
const ResourceForm = lazy(() => import('./pages/crud/ResourceForm').then((m) => ({ default: m.ResourceForm })));
const ResourceView = lazy(() => import('./pages/crud/ResourceView').then((m) => ({ default: m.ResourceView })));

export function Page({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Spinner />}>{children}</Suspense>;
}

export const routes: RouteObject[] = [
  { path: '/login', element: <SignIn /> },
  { path: '/signup', element: <Page><SignUp /></Page> },
  { path: '/register', element: <Navigate to="/signup" replace /> },
  { path: '/forgot-password', element: <Page><ForgotPassword /></Page> },
  { path: '/forgot', element: <Navigate to="/forgot-password" replace /> },
  { path: '/password-reset', element: <Page><ResetPassword /></Page> },
  { path: '/reset-password', element: <Page><ResetPassword /></Page> },
  { path: '/verify-email', element: <Page><VerifyEmail /></Page> },
  {
    element: (
      <RequireAuth>
        <Page>
          <Layout />
        </Page>
      </RequireAuth>
    ),
    children: [
      { index: true, element: <Page><Dashboard /></Page> },
      { path: 'profile', element: <Page><Profile /></Page> },
      ...resourceList.flatMap((r): RouteObject[] => [
        { path: r.key, element: <RequirePermission permission={`READ_${r.permission}`}><Page><ResourceList key={r.key} resource={r} /></Page></RequirePermission> },
        { path: `${r.key}/new`, element: <RequirePermission permission={`CREATE_${r.permission}`}><Page><ResourceForm key={`${r.key}-new`} resource={r} mode="create" /></Page></RequirePermission> },
        { path: `${r.key}/:id`, element: <RequirePermission permission={`READ_${r.permission}`}><Page><ResourceView key={r.key} resource={r} /></Page></RequirePermission> },
        { path: `${r.key}/:id/edit`, element: <RequirePermission permission={`UPDATE_${r.permission}`}><Page><ResourceForm key={`${r.key}-edit`} resource={r} mode="edit" /></Page></RequirePermission> },
      ]),
      { path: '*', element: <Page><NotFound /></Page> },
    ],
  },
];

