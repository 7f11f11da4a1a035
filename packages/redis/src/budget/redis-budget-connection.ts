import { RedisScript, type RedisScriptClient } from '../internal/redis-script.js';
import type { BudgetConnection } from './budget-connection.js';
import type { ReapReply, ReapRequest } from './reaping.js';
import { parseReapReply, reapArguments, reapLua } from './reaping-script.js';
import { budgetKeys } from './stored-budget.js';

/**
 * The part of a standalone ioredis client (5 or 6) a `RedisBudgetConnection` uses besides scripts,
 * typed structurally like `RedisScriptClient`.
 */
export interface ConnectionAwareRedisClient extends RedisScriptClient {
  /** ioredis's connection status: 'ready' once commands can go out. */
  readonly status: string;
  client(subcommand: string, ...args: Array<string | number>): Promise<unknown>;
  on(event: 'ready' | 'close' | 'end', listener: () => void): unknown;
  off(event: 'ready' | 'close' | 'end', listener: () => void): unknown;
}

/**
 * True for a client whose connection can be watched: a standalone ioredis `Redis`. Not for a `Cluster`:
 * its calls travel on connections to several nodes, and a client id is only meaningful on the node
 * that gave it, so a Cluster's budget keeps to lease expiry.
 */
export function isConnectionAwareClient(client: RedisScriptClient): client is ConnectionAwareRedisClient {
  const candidate = client as Partial<ConnectionAwareRedisClient> & { isCluster?: unknown };
  return (
    candidate.isCluster !== true &&
    typeof candidate.status === 'string' &&
    typeof candidate.client === 'function' &&
    typeof candidate.on === 'function' &&
    typeof candidate.off === 'function'
  );
}

const script = new RedisScript(reapLua);

/**
 * A budget's `BudgetConnection` on a standalone ioredis client: asks CLIENT ID after every (re)connect
 * ('ready'), forgets it on 'close' or 'end', checks suspects with CLIENT LIST ID, and reaps with the
 * reaping script. It listens to the client only while a budget listens to it.
 */
export class RedisBudgetConnection implements BudgetConnection {
  private id = 0;
  /** Counts closes, so an answer to CLIENT ID asked on an earlier connection is not taken for this one. */
  private closes = 0;
  private readonly listeners = new Set<() => void>();
  private readonly keys: string[];

  constructor(
    private readonly client: ConnectionAwareRedisClient,
    key: string,
  ) {
    this.keys = budgetKeys(key);
  }

  get clientId(): number {
    return this.id;
  }

  onClose(listener: () => void): () => void {
    if (this.listeners.size === 0) {
      this.client.on('ready', this.onReady);
      this.client.on('close', this.onDisconnect);
      this.client.on('end', this.onDisconnect);
      if (this.client.status === 'ready') this.onReady();
    }
    this.listeners.add(listener);
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      this.client.off('ready', this.onReady);
      this.client.off('close', this.onDisconnect);
      this.client.off('end', this.onDisconnect);
    };
  }

  async findGone(clientIds: readonly number[]): Promise<number[] | 'unsupported'> {
    let listing: unknown;
    try {
      listing = await this.client.client('LIST', 'ID', ...clientIds);
    } catch (error) {
      // Redis answered with an error (before 6.2: a syntax error; or an ACL refusing it): it will not
      // say. Anything else (a closed connection, a timeout) may pass.
      if ((error as Error | undefined)?.name === 'ReplyError') return 'unsupported';
      throw error;
    }
    const present = new Set<number>();
    for (const match of String(listing).matchAll(/(?:^|\n)id=(\d+)/g)) present.add(Number(match[1]));
    return clientIds.filter((id) => !present.has(id));
  }

  async reap(request: ReapRequest): Promise<ReapReply> {
    return parseReapReply(await script.run(this.client, this.keys, reapArguments(request)));
  }

  private readonly onReady = (): void => {
    const closes = this.closes;
    this.client.client('ID').then(
      (id) => {
        if (this.closes === closes && this.client.status === 'ready') this.id = Number(id) || 0;
      },
      () => {
        // Unknown until the next 'ready': calls go out with client id 0 (expiry only) meanwhile.
      },
    );
  };

  private readonly onDisconnect = (): void => {
    this.closes += 1;
    this.id = 0;
    for (const listener of [...this.listeners]) listener();
  };
}
