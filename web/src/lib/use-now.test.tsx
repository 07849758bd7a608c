// The one ticking clock of the UI: it moves while active and stops (no timer left behind) when not.
import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { useNow } from './use-now';

function Clock({ active }: { active: boolean }) {
  return <p>{useNow(1_000, active)}</p>;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('useNow', () => {
  it('ticks while active and leaves no timer once inactive or unmounted', () => {
    vi.useFakeTimers();
    vi.setSystemTime(10_000);
    const view = render(<Clock active />);
    act(() => {
      vi.advanceTimersByTime(1_000);
    });
    expect(screen.getByText('11000')).toBeInTheDocument();

    view.rerender(<Clock active={false} />);
    expect(vi.getTimerCount()).toBe(0);
    act(() => {
      vi.advanceTimersByTime(5_000);
    });
    expect(screen.getByText('11000')).toBeInTheDocument();

    view.rerender(<Clock active />);
    view.unmount();
    expect(vi.getTimerCount()).toBe(0);
  });
});
