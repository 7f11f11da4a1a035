/** The label of a request that matches no route the app serves. */
export const otherRoute = 'other';

/**
 * Builds the function that names a request's route for metrics and logs: a fixed route as itself,
 * a tRPC call as `trpc:<procedure>` (`trpc:batch` for a batch of known procedures), anything else
 * {@link otherRoute}. Only names from this closed list become label values, so junk URLs cannot
 * create Prometheus series: a label set per URL would grow the registry (and every scrape) without
 * limit.
 *
 * @param trpcPrefix - where tRPC is mounted, e.g. `/api/trpc/`.
 * @param procedures - every procedure path of the router (`auth.signIn`, ...).
 * @param fixedRoutes - every path served outside tRPC (`operationalRoutePaths`).
 */
export function createRouteLabeller(
  trpcPrefix: string,
  procedures: readonly string[],
  fixedRoutes: readonly string[],
): (pathname: string) => string {
  const known = new Set(procedures);
  // The label of every one-call path and fixed route, made once: most requests are one of these.
  const labels = new Map<string, string>();
  for (const procedure of known) labels.set(`${trpcPrefix}${procedure}`, `trpc:${procedure}`);
  for (const route of fixedRoutes) labels.set(route, route);
  return (pathname) => {
    const label = labels.get(pathname);
    if (label !== undefined) return label;
    // Left: batches, and paths naming nothing the app serves.
    if (!pathname.startsWith(trpcPrefix)) return otherRoute;
    const paths = pathname.slice(trpcPrefix.length).split(',');
    return paths.length > 1 && paths.every((path) => known.has(path)) ? 'trpc:batch' : otherRoute;
  };
}
