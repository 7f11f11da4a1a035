import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, itImportsEveryBuiltEntryPoint } from '../../../tooling/built-entry-points.js';

const packageDir = resolve(import.meta.dirname, '..');

describe('built entry points (turbo builds before tests)', () => {
  itImportsEveryBuiltEntryPoint(packageDir, {
    '.': [
      'createSafeguardsMiddleware',
      'createSafeguardsPlugin',
      'resolveProcedureSettings',
      'safeguardsErrorFormatter',
      'userFriendlyData',
      'safeguardsResponseMeta',
      'safeguardsHeaders',
      'withSafeguardsContext',
      'withConnectionMiddleware',
      'checkRequest',
      'clientIp',
      'toTRPCError',
      'toSafeguardError',
      'trpcCodeByErrorType',
      'trpcCodeFor',
    ],
    './client': [
      'getUserFriendlyError',
      'safeguardsRetryLink',
      'shouldRetry',
      'retryDelay',
      'computeRetryDelay',
    ],
  });

  it('the client entry loads nothing from the server side or the core (safe for browser bundles)', () => {
    const { external } = importGraph(join(packageDir, 'dist/client/index.js'));
    expect(external.every((specifier) => specifier === '@trpc/server/observable')).toBe(true);
  });
});
