import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// Pages are lazy chunks: on a busy 2-core machine the first import of one can take longer than
// Testing Library's default 1 s wait. Waiting longer changes no outcome, only patience.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => cleanup());
