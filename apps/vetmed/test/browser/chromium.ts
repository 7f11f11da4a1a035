import { type Browser, chromium } from 'playwright-core';
import { ensureChromium } from '../../../../tooling/ensure-chromium.mjs';

/**
 * Chromium's flags for a machine without a display or network: no sandbox (containers run as root),
 * no GPU, and none of the browser's own background connections (updates, sync, QUIC probes), which
 * would otherwise be refused again and again at start.
 */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium (installed with apt-get when missing and possible), driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), args: chromiumArgs, headless: true });
}
