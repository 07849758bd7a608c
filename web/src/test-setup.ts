// Component tests: DOM matchers, a clean DOM and fetch between tests, and no console.error or console.warn (React's
// key and act() warnings among them) in any test.
import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeAll, beforeEach, expect, vi, type MockInstance } from 'vitest';

// jsdom has <dialog> but not its modal methods (jsdom#3294); these do what the confirmations need of them.
beforeAll(() => {
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
    this.removeAttribute('open');
  };
});

let consoleError: MockInstance<typeof console.error>;
let consoleWarn: MockInstance<typeof console.warn>;

beforeEach(() => {
  consoleError = vi.spyOn(console, 'error');
  consoleWarn = vi.spyOn(console, 'warn');
});

afterEach(() => {
  cleanup();
  const logged = [...consoleError.mock.calls, ...consoleWarn.mock.calls];
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  expect(logged).toEqual([]);
});
