import { describe, expect, it } from 'vitest';
import { operationalRoutePaths } from './operational-routes.js';
import { createRouteLabeller } from './route-label.js';

describe('createRouteLabeller', () => {
  const routeOf = createRouteLabeller('/api/trpc/', ['auth.me', 'animals.list'], operationalRoutePaths);

  it('names known procedures, batches of them and the fixed routes', () => {
    expect(routeOf('/api/trpc/auth.me')).toBe('trpc:auth.me');
    expect(routeOf('/api/trpc/auth.me,animals.list')).toBe('trpc:batch');
    expect(routeOf('/api/health')).toBe('/api/health');
    expect(routeOf('/api/admin/queue/pause')).toBe('/api/admin/queue/pause');
    expect(routeOf('/metrics')).toBe('/metrics');
    expect(routeOf('/api/admin/dashboard')).toBe('/api/admin/dashboard');
  });

  it('names every route the operational tables serve as itself', () => {
    expect(operationalRoutePaths).toEqual(
      expect.arrayContaining([
        '/api/health',
        '/api/ready',
        '/api/alive',
        '/metrics',
        '/api/admin/errors',
        '/api/admin/dashboard',
        '/api/admin/circuit-breaker/open',
      ]),
    );
    for (const path of operationalRoutePaths) expect(routeOf(path)).toBe(path);
  });

  it('labels everything else "other"', () => {
    for (const path of [
      '/api/trpc/auth.me2',
      '/api/trpc/auth.me,nope',
      '/api/trpc/',
      '/api/health/',
      '/api/admin/anything',
      '/api/whatever',
      '/metrics.json',
      '/favicon.ico',
    ])
      expect(routeOf(path)).toBe('other');
  });

  it('labels only the fixed routes it is given', () => {
    expect(createRouteLabeller('/api/trpc/', [], ['/only'])('/api/health')).toBe('other');
  });
});
