import type {} from '@db-safeguards/core';

/**
 * The error reasons this app adds to the toolkit's closed lists (see `AppErrorReasons`), declared
 * once for the whole app. Files that make these errors import this module's types, so the
 * declaration is seen wherever they are compiled (a client importing the router's type included).
 */
declare module '@db-safeguards/core' {
  interface AppErrorReasons {
    CONFLICT: 'idempotency-key-reused' | 'regimen-inactive' | 'regimen-ended' | 'last-owner';
    NOT_FOUND: 'regimen-not-found' | 'no-route' | 'receipt-not-found';
    VALIDATION: 'request-too-large' | 'malformed-request' | 'dose-before-regimen-start';
    TIMEOUT: 'request-timeout';
  }
}
