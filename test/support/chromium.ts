/**
 * A headless Chromium from Debian's `chromium` package (scripts/ensure-chromium.sh), driven by
 * puppeteer-core, which downloads no browser of its own. Outside CI a missing Chromium skips the
 * tests that need it, naming the install command; in CI (CI=true) it fails them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { tempDir } from './policy.js';

export function chromiumOrSkip(): { chromium: string; skip: false } | { chromium: ''; skip: string } {
  const named = process.env.GATEHOUSE_CHROMIUM;
  if (named && existsSync(named)) return { chromium: named, skip: false };
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (existsSync(candidate)) return { chromium: candidate, skip: false };
  }
  try {
    return { chromium: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(), skip: false };
  } catch {
    const message = 'chromium not found: run "./dev setup" (scripts/ensure-chromium.sh: apt-get install -y --no-install-recommends chromium)';
    if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
    console.warn(`skipping: ${message}`);
    return { chromium: '', skip: message };
  }
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
