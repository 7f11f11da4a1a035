import type { ErrorReason } from '@db-safeguards/core';
import type { TRPCClientError } from '@trpc/client';
import type { inferRouterError } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import type { UserFriendlyErrorData } from '../src/index.js';
import type { AppRouter } from './fixture.js';

type ClientUserFriendly = NonNullable<TRPCClientError<AppRouter>['data']>['userFriendly'];

describe('types a client sees', () => {
  it('error.data.userFriendly is typed through tRPC inference', () => {
    expectTypeOf<
      inferRouterError<AppRouter>['data']['userFriendly']
    >().toEqualTypeOf<UserFriendlyErrorData>();
    expectTypeOf<ClientUserFriendly>().toEqualTypeOf<UserFriendlyErrorData>();
  });

  // Each @ts-expect-error below fails the type check (an unused directive is an error) the day the
  // misspelt reason would compile, e.g. if `reason` went back to `string`.
  it('a switch on userFriendly.reason is checked by the compiler: a misspelt reason does not compile', () => {
    const advice = (userFriendly: ClientUserFriendly): string => {
      switch (userFriendly.reason) {
        case 'rate-limit':
        case 'shed':
        case 'circuit-open':
          return 'wait, then try again';
        case 'read-only':
          return 'viewing still works';
        // @ts-expect-error 'rate-limited' is not a reason (the toolkit says 'rate-limit')
        case 'rate-limited':
          return 'never';
        // @ts-expect-error a misspelt reason
        case 'ciruit-open':
          return 'never';
        default:
          return userFriendly.message;
      }
    };
    expectTypeOf(advice).returns.toEqualTypeOf<string>();
  });

  it('checking the type narrows the reason to that type closed list, so a switch can be exhaustive', () => {
    const busy = (userFriendly: ClientUserFriendly): string | undefined => {
      if (userFriendly.type !== 'QUEUE_FULL') return undefined;
      expectTypeOf(userFriendly.reason).toEqualTypeOf<'queue-full' | 'shed' | 'displaced' | 'overloaded'>();
      switch (userFriendly.reason) {
        case 'queue-full':
          return 'full';
        case 'shed':
          return 'shed';
        case 'displaced':
          return 'displaced';
        case 'overloaded':
          return 'overloaded';
        default: {
          const unreachable: never = userFriendly;
          return unreachable;
        }
      }
    };
    expectTypeOf(busy).returns.toEqualTypeOf<string | undefined>();
    expectTypeOf<Extract<ClientUserFriendly, { type: 'RATE_LIMIT' }>['reason']>().toEqualTypeOf<
      ErrorReason<'RATE_LIMIT'>
    >();
    // @ts-expect-error a reason of another type is not a QUEUE_FULL reason
    const wrongType: ErrorReason<'QUEUE_FULL'> = 'circuit-open';
    expectTypeOf(wrongType).toEqualTypeOf<ErrorReason<'QUEUE_FULL'>>();
  });
});
