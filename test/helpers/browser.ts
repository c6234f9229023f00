import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium package (apt-get install -y chromium); override with W2S_CHROMIUM. */
export const CHROMIUM = process.env.W2S_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  /** A new page that records console errors and page errors into `errors`. */
  page(): Promise<{ page: Page; errors: string[] }>;
  /** Saves a screenshot under test-artifacts/ (git-ignored). */
  screenshot(page: Page, name: string): Promise<string>;
  /** Closes the browser and removes its profile; call it from a top-level after() of the test file. */
  close(): Promise<void>;
}

/**
 * One headless Chromium per test file, with a fresh profile and no network services.
 * Pages may only reach 127.0.0.1 or file: URLs; any other request is aborted and counted as an error.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'w2s-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const external: string[] = [];
  await context.route(/^(?!file:|http:\/\/127\.0\.0\.1[:/]|data:|about:)/, (route) => {
    external.push(route.request().url());
    return route.abort();
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
    async page() {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('requestfailed', (r) => {
        if (external.includes(r.url())) errors.push(`blocked external request ${r.url()}`);
      });
      return { page, errors };
    },
    async screenshot(page, name) {
      const dir = resolve('test-artifacts');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
  };
}
