import type { TRPCClientError } from '@trpc/client';
import type { inferRouterError } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import type { UserFriendlyErrorData } from '../src/index.js';
import type { AppRouter } from './fixture.js';

describe('types a client sees', () => {
  it('error.data.userFriendly is typed through tRPC inference', () => {
    expectTypeOf<
      inferRouterError<AppRouter>['data']['userFriendly']
    >().toEqualTypeOf<UserFriendlyErrorData>();
    expectTypeOf<
      NonNullable<TRPCClientError<AppRouter>['data']>['userFriendly']
    >().toEqualTypeOf<UserFriendlyErrorData>();
  });
});
