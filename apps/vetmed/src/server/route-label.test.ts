import { describe, expect, it } from 'vitest';
import { createRouteLabeller } from './route-label.js';

describe('createRouteLabeller', () => {
  const routeOf = createRouteLabeller('/api/trpc/', ['auth.me', 'animals.list']);

  it('names known procedures, batches of them and the fixed routes', () => {
    expect(routeOf('/api/trpc/auth.me')).toBe('trpc:auth.me');
    expect(routeOf('/api/trpc/auth.me,animals.list')).toBe('trpc:batch');
    expect(routeOf('/api/health')).toBe('/api/health');
    expect(routeOf('/api/admin/queue/pause')).toBe('/api/admin/queue/pause');
    expect(routeOf('/metrics')).toBe('/metrics');
    expect(routeOf('/')).toBe('/');
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
});
