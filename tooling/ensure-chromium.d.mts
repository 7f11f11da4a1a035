// Types of ensure-chromium.mjs, for the TypeScript that imports it (the browser tests).

/** Thrown when no Chromium can be found or installed; its message says what to do. */
export declare class ChromiumUnavailableError extends Error {
  name: 'ChromiumUnavailableError';
}

/**
 * The path of a Chromium executable: CHROMIUM_PATH when set, else Debian's `chromium`, installed with
 * apt-get first when it is missing and the process runs as root.
 */
export declare function ensureChromium(env?: Record<string, string | undefined>): string;
