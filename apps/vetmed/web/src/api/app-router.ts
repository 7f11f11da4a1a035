/**
 * The server's router type: the only thing the web client takes from the server's code. A type
 * import, erased from the bundle: no server code reaches the browser.
 */
export type { AppRouter } from '../../../src/routers/app-router.js';

import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../../src/routers/app-router.js';

/** What each procedure takes, e.g. `RouterInputs['administrations']['record']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** What each procedure answers. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;
