// The shared confirmation dialog: Escape dismisses it, except while its action runs.
import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { ConfirmDialog } from './ui';

function renderDialog(busy: boolean) {
  const onCancel = vi.fn();
  render(
    <ConfirmDialog
      open
      busy={busy}
      title="Remove alpha?"
      confirmLabel="Remove"
      onConfirm={vi.fn()}
      onCancel={onCancel}
    >
      <p>It revokes the worker’s certificate.</p>
    </ConfirmDialog>,
  );
  return onCancel;
}

describe('ConfirmDialog', () => {
  it('is dismissed by Escape', () => {
    const onCancel = renderDialog(false);
    fireEvent(
      screen.getByRole('dialog', { name: 'Remove alpha?' }),
      new Event('cancel', { cancelable: true }),
    );
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it('stays open on Escape while its action runs, so its outcome is not lost', () => {
    const onCancel = renderDialog(true);
    const cancel = new Event('cancel', { cancelable: true });
    fireEvent(screen.getByRole('dialog', { name: 'Remove alpha?' }), cancel);
    expect(onCancel).not.toHaveBeenCalled();
    expect(cancel.defaultPrevented).toBe(true);
    expect(screen.getByRole('button', { name: 'Remove' })).toBeDisabled();
  });
});
