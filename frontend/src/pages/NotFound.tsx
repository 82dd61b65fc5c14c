/** Any unknown address inside the app. */
import { Link } from 'react-router';
import { PageHeader } from '../shared/ui/components';

export function NotFound() {
  return (
    <section>
      <PageHeader title="Page not found" />
      <p>
        Nothing lives at this address. <Link to="/">Go to the dashboard</Link>
      </p>
    </section>
  );
}
