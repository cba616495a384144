/**
 * A headless Chromium from Debian's `chromium` package (scripts/ensure-chromium.sh), driven by
 * puppeteer-core, which downloads no browser of its own. Outside CI a missing Chromium skips the
 * tests that need it, naming the install command; in CI (CI=true) it fails them.
 */
import { rmSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { debianBinaryOrSkip } from './debian-binary.js';
import { tempDir } from './policy.js';

/** GATEHOUSE_CHROMIUM names another Chromium/Chrome binary instead. */
export function chromiumOrSkip(): { chromium: string; skip: false } | { chromium: ''; skip: string } {
  const named = process.env.GATEHOUSE_CHROMIUM;
  const found = debianBinaryOrSkip('chromium', [...(named ? [named] : []), '/usr/bin/chromium', '/usr/bin/chromium-browser']);
  return found.skip ? { chromium: '', skip: found.skip } : { chromium: found.path, skip: false };
}

/**
 * Chromium, headless, with a fresh profile in a temporary directory (removed by `close`), talking
 * to puppeteer over a pipe (no debugging port). As root (CI, containers) Chromium's sandbox cannot
 * start, so it runs without one: it only ever loads pages of a server the test started.
 */
export async function launchChromium(executablePath: string): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const profile = tempDir('gatehouse-chromium-');
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    pipe: true,
    userDataDir: profile,
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--disable-background-networking', '--disable-component-update'],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
