import type { Page } from 'playwright-core';

/**
 * Collects what must never happen on a page: an uncaught exception, and anything the browser refused
 * (a Content-Security-Policy violation, a script or style it would not load). Failed requests are not
 * problems here: the tests cause some on purpose.
 */
export function watchPageProblems(page: Page): () => string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && /Content Security Policy|Refused to|MIME type/i.test(text))
      problems.push(`refused: ${text}`);
  });
  return () => problems.slice();
}
