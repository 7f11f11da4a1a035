/**
 * Test infrastructure for db-safeguards: a throwaway real `redis-server` on a free port (or
 * `TEST_REDIS_URL`), with stop, restart, kill and freeze for fault tests.
 */
export {
  isRedisServerMissingError,
  RedisServerMissingError,
} from './redis-server-missing-error.js';
export {
  isRedisServerControlUnsupportedError,
  RedisServerControlUnsupportedError,
} from './server-control-unsupported-error.js';
export { type StartTestRedisOptions, startTestRedis, type TestRedis } from './start-test-redis.js';
