// Shared building blocks: the confirmation dialog (Escape, except while its action runs), and tables that the
// keyboard can scroll when they are wider than the screen.
import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { Cell, ConfirmDialog, stackedTableCss, Table } from './ui';

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

/** Calls back at once on observe(), as the browser does for a first measurement. */
class ImmediateResizeObserver {
  constructor(private readonly callback: () => void) {}
  observe(): void {
    this.callback();
  }
  disconnect(): void {
    // Nothing to stop.
  }
}

function renderTable() {
  render(
    <Table caption="Volumes" columns={['Name']}>
      <tr>
        <Cell>app-data</Cell>
      </tr>
    </Table>,
  );
}

describe('Table', () => {
  it('lets the keyboard reach a table wider than the screen, named after it', () => {
    vi.stubGlobal('ResizeObserver', ImmediateResizeObserver);
    vi.spyOn(HTMLElement.prototype, 'scrollWidth', 'get').mockReturnValue(900);
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(390);
    renderTable();
    const box = screen.getByRole('region', { name: 'Volumes (scrolls sideways)' });
    expect(box).toHaveAttribute('tabindex', '0');
    expect(box).toContainElement(screen.getByRole('table', { name: 'Volumes' }));
  });

  it('stacks its rows on a phone, each cell labelled with its column', () => {
    render(
      <Table caption="Resources" columns={['Type', 'On the target']}>
        <tr>
          <Cell>volume</Cell>
          <Cell>app-data</Cell>
        </tr>
      </Table>,
    );
    const box = screen.getByRole('table', { name: 'Resources' }).parentElement;
    const scope = box?.getAttribute('data-stack') ?? '';
    expect(scope).not.toBe('');
    const css = box?.querySelector('style')?.textContent ?? '';
    expect(css).toBe(stackedTableCss(scope, ['Type', 'On the target']));
    expect(css).toMatch(/^@media \(max-width:639\.98px\)\{/);
    expect(css).toContain(
      `[data-stack=${JSON.stringify(scope)}] td:not([colspan]):nth-child(2)::before{content:"On the target"}`,
    );
    expect(css).toContain('td{display:flex');
  });

  it('adds no tab stop when the table fits', () => {
    vi.stubGlobal('ResizeObserver', ImmediateResizeObserver);
    vi.spyOn(HTMLElement.prototype, 'scrollWidth', 'get').mockReturnValue(900);
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(1200);
    renderTable();
    expect(screen.queryByRole('region')).not.toBeInTheDocument();
    expect(screen.getByRole('table', { name: 'Volumes' }).parentElement).not.toHaveAttribute('tabindex');
  });
});
