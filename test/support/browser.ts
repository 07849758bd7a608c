// Debian's Chromium driven by playwright-core for the browser tests: never a downloaded browser. Collects what
// the page logs as errors (a test fails on any) and saves screenshots as artifacts in .artifacts/screenshots.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.DOCKER_MIGRATE_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = new URL('../../.artifacts/screenshots/', import.meta.url).pathname;

/** Flags that keep a headless Chromium quiet and offline in a container (see env notes). */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  screenshot(name: string, page?: Page): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(options: { viewport?: { width: number; height: number } } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run "make browser" (apt-get install chromium) first`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 860 },
    colorScheme: 'light',
  });
  const errors: string[] = [];
  const watch = (page: Page): void => {
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  };
  context.on('page', watch);
  const page = await context.newPage();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const session: BrowserSession = {
    browser,
    context,
    page,
    errors,
    async screenshot(name, target = page) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await target.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    },
  };
  return session;
}
