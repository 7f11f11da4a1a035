import { describe, expect, it } from 'vitest';
import { DatabaseConfigError, directNeonUrl, resolveDatabaseConfig } from './database-config.js';

const pooled =
  'postgresql://app:pw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/vetmed?sslmode=require';
const direct = 'postgresql://app:pw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/vetmed?sslmode=require';

function configError(run: () => unknown): DatabaseConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof DatabaseConfigError) return error;
    throw error;
  }
  throw new Error('expected a DatabaseConfigError');
}

describe('migrations never go over a pooled URL', () => {
  it("derives a Neon -pooler URL's direct host for migrations", () => {
    expect(directNeonUrl(pooled)).toBe(direct);
    expect(resolveDatabaseConfig({ url: pooled })).toMatchObject({
      driver: 'neon',
      url: pooled,
      unpooledUrl: direct,
    });
    expect(resolveDatabaseConfig({ url: pooled, driver: 'postgres' }).unpooledUrl).toBe(direct);
  });

  it('keeps an unpooled URL that is given, and needs none for a direct URL', () => {
    const other = 'postgresql://app:pw@ep-other-1.us-east-2.aws.neon.tech/vetmed';
    expect(resolveDatabaseConfig({ url: pooled, unpooledUrl: other }).unpooledUrl).toBe(other);
    expect(resolveDatabaseConfig({ url: direct }).unpooledUrl).toBeUndefined();
    expect(
      resolveDatabaseConfig({ url: 'postgres://app:pw@db.internal/vetmed' }).unpooledUrl,
    ).toBeUndefined();
  });

  it('refuses a pooled host it cannot derive a direct one for, and a pooled unpooled URL', () => {
    const ownBouncer = configError(() =>
      resolveDatabaseConfig({ url: 'postgres://app:pw@db-pooler.internal/vetmed' }),
    );
    expect(ownBouncer.field).toBe('unpooledUrl');
    expect(ownBouncer.message).toMatch(/direct URL for migrations.*pooled \(-pooler\).*advisory lock/);
    const stillPooled = configError(() => resolveDatabaseConfig({ url: direct, unpooledUrl: pooled }));
    expect(stillPooled).toMatchObject({ field: 'unpooledUrl' });
    expect(stillPooled.message).toContain('app:***@ep-cool-darkness-123456-pooler');
    expect(stillPooled.message).not.toContain(':pw@');
    expect(directNeonUrl('postgres://app:pw@db-pooler.internal/vetmed')).toBeUndefined();
    expect(directNeonUrl(direct)).toBeUndefined();
  });
});
