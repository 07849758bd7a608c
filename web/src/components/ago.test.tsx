// The ticking "12 s ago" of the worker pages, the history and the audit log.
import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Ago } from './ui';

afterEach(() => {
  vi.useRealTimers();
});

describe('Ago', () => {
  it('moves on by itself every few seconds', () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse('2026-11-29T12:00:12.000Z'));
    render(<Ago at="2026-11-29T12:00:00.000Z" />);
    expect(screen.getByText('12 s ago')).toBeInTheDocument();

    act(() => {
      vi.advanceTimersByTime(5_000);
    });

    expect(screen.getByText('17 s ago')).toBeInTheDocument();
  });

  it('says never for a worker that has not been heard from', () => {
    render(<Ago at={null} />);
    expect(screen.getByText('never')).toBeInTheDocument();
  });
});
