/** The frame of the signed-out pages: the product name and one card. */
import { useEffect, type ReactNode } from 'react';

export function AuthCard({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Runway`;
  }, [title]);
  return (
    <main id="main" className="auth-page">
      <div className="auth-card card">
        <p className="brand brand-lg" aria-hidden="true">
          <span className="brand-mark">▲</span> Runway
        </p>
        <h1>{title}</h1>
        {children}
      </div>
      {footer && <div className="auth-footer">{footer}</div>}
    </main>
  );
}
