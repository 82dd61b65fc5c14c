/**
 * The signed-in frame: skip link, header with the navigation the user's permissions allow
 * (collapsing behind a Menu button on narrow screens), the user menu, and the page.
 */
import { useEffect, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { displayName } from '../auth/types';
import { resourceList } from '../../resources';
import { Button } from './components';

export function Layout() {
  const { user, can, signOut } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [signingOut, setSigningOut] = useState(false);

  useEffect(() => {
    // A new page: close the mobile menu and move focus to its heading for screen readers.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setMenuOpen(false);
    const h1 = document.querySelector<HTMLElement>('main h1');
    h1?.focus({ preventScroll: true });
  }, [location.pathname]);

  async function onSignOut() {
    setSigningOut(true);
    try {
      await signOut();
    } finally {
      setSigningOut(false);
      navigate('/login', { replace: true });
    }
  }

  const admin = resourceList.filter((r) => can(`READ_${r.permission}`));
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ▲
          </span>{' '}
          Runway
        </Link>
        <Button className="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)}>
          Menu
        </Button>
        <nav id="main-nav" aria-label="Main" className={`nav${menuOpen ? ' open' : ''}`}>
          <ul>
            <li>
              <NavLink to="/" end>
                Dashboard
              </NavLink>
            </li>
            {admin.map((r) => (
              <li key={r.key}>
                <NavLink to={`/${r.key}`}>{r.title}</NavLink>
              </li>
            ))}
            <li>
              <NavLink to="/profile">Profile</NavLink>
            </li>
          </ul>
          <div className="user-box">
            <span className="user-name" title={user?.email}>
              {user ? displayName(user) : ''}
            </span>
            <Button variant="ghost" onClick={onSignOut} busy={signingOut}>
              Sign out
            </Button>
          </div>
        </nav>
      </header>
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
