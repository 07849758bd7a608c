// The worker summary's figures, in words with the right plurals.
import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { sampleWorker } from '../testing/fixtures';
import { WorkerSummary } from './worker-summary';

function term(name: string): HTMLElement {
  const dt = screen.getByText(name, { selector: 'dt' });
  return dt.nextElementSibling as HTMLElement;
}

describe('WorkerSummary', () => {
  it('counts cores and tasks in the singular when there is one', () => {
    const worker = sampleWorker({ active_tasks: 1 });
    render(<WorkerSummary worker={{ ...worker, system: { ...worker.system!, cpus: 1 } }} />);
    expect(term('CPU')).toHaveTextContent('1 core, 13 % busy');
    expect(term('State')).toHaveTextContent('1 task running');
  });

  it('says what it does not know', () => {
    render(<WorkerSummary worker={sampleWorker({ system: null, grpc_address: '' })} />);
    expect(term('CPU')).toHaveTextContent('—');
    expect(term('Free disk (Docker root)')).toHaveTextContent('—');
    expect(term('Address')).toHaveTextContent('—');
  });
});
