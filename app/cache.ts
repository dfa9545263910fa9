/**
 * Cache-aside over Redis (ioredis), with a TTL. Redis is an accelerator, never a dependency: every
 * failure (down, slow, refused) reads as a miss, commands fail fast instead of queueing while
 * disconnected, and ioredis reconnects by itself in the background.
 */
import Redis from 'ioredis';
import type { RequestTrace } from './tracing';
import type { StoredValue } from './values';

export type CacheLookup = { state: 'hit'; value: StoredValue } | { state: 'miss' } | { state: 'unavailable' };

export interface Cache {
  get(id: number, trace: RequestTrace): Promise<CacheLookup>;
  put(v: StoredValue, trace: RequestTrace): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const NO_CACHE: Cache = {
  get: async () => ({ state: 'miss' }),
  put: async () => undefined,
  ping: async () => true,
  close: async () => undefined,
};

const key = (id: number) => `pgwarden:value:${id}`;

export class RedisCache implements Cache {
  readonly redis: Redis;

  constructor(
    url: string,
    private readonly ttlS: number,
    timeoutMs: number,
  ) {
    this.redis = new Redis(url, {
      connectTimeout: 1000,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // Keep trying forever, at most once a second: Redis coming back is picked up within ~1 s.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    });
    // Connection errors are expected while Redis is away; commands report theirs to the caller.
    this.redis.on('error', () => undefined);
  }

  async get(id: number, trace: RequestTrace): Promise<CacheLookup> {
    try {
      const raw = await trace.sub('redis', 'redis', () => this.redis.get(key(id)), undefined, { command: 'GET' });
      return raw ? { state: 'hit', value: JSON.parse(raw) as StoredValue } : { state: 'miss' };
    } catch {
      return { state: 'unavailable' };
    }
  }

  async put(v: StoredValue, trace: RequestTrace): Promise<void> {
    try {
      await trace.sub(
        'redis',
        'redis',
        () => this.redis.set(key(v.id), JSON.stringify(v), 'EX', this.ttlS),
        undefined,
        {
          command: 'SET',
          ttlS: this.ttlS,
        },
      );
    } catch {
      /* a value not cached is read from the database next time */
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
