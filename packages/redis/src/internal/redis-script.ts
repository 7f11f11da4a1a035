import { createHash } from 'node:crypto';

/**
 * The little this package needs from a Redis client: `evalsha`, `eval` and `del` as ioredis (5 and 6)
 * has them, a `Redis` or a `Cluster`. Typed structurally so ioredis stays an optional peer dependency.
 */
export interface RedisScriptClient {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  del(...keys: string[]): Promise<unknown>;
}

/** A Lua script run by its SHA1 (one short request), loaded with EVAL on the first NOSCRIPT. */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisScriptClient, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      // After a restart, a failover or SCRIPT FLUSH, Redis no longer has the script: EVAL sends it again.
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
