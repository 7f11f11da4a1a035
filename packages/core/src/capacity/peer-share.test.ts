import { describe, expect, it } from 'vitest';
import { createSafeguards } from '../safeguards.js';
import { ManualClock } from '../testing/manual-clock.js';
import { type PeerWatchOptions, peerApplicationName, peerShare, watchPeerInstances } from './peer-share.js';

/**
 * Safeguards with a budget of 8 on a manual clock, and a watch of them as instance "app:a" among
 * "app:" names, looking every second; `options` adds to or replaces those.
 */
function watchOnManualClock(
  options: Pick<PeerWatchOptions, 'listApplicationNames'> & Partial<PeerWatchOptions>,
) {
  const clock = new ManualClock(0);
  const safeguards = createSafeguards({ clock, queue: { maxConcurrentConnections: 8 } });
  const watch = watchPeerInstances(safeguards, {
    capacity: 8,
    self: 'app:a',
    prefix: 'app:',
    intervalMs: 1000,
    clock,
    ...options,
  });
  return { clock, safeguards, watch };
}

describe('peerShare', () => {
  it('splits the capacity so that instances seeing the same names use all of it and no more', () => {
    for (const count of [1, 2, 3, 4, 5, 7, 8, 9, 20]) {
      const names = Array.from({ length: count }, (_, i) => `app:${i}`);
      const shares = names.map((self) => peerShare(8, self, names));
      const total = shares.reduce((a, b) => a + b, 0);
      // Every instance gets at least one slot, so past 8 instances the total is the instance count.
      expect(total).toBe(Math.max(8, count));
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    }
  });

  it('counts this instance even when the database listed only the others', () => {
    expect(peerShare(8, 'app:me', ['app:a'])).toBe(4);
    expect(peerShare(8, 'app:me', [])).toBe(8);
    expect(peerShare(8, 'app:me', ['app:me', 'app:me'])).toBe(8);
  });
});

describe('peerApplicationName', () => {
  it('joins prefix and id and refuses what PostgreSQL would cut or what cannot match', () => {
    expect(peerApplicationName('vetmed:', '123-ab')).toBe('vetmed:123-ab');
    expect(() => peerApplicationName('vetmed:', 'x'.repeat(60))).toThrow(/fit in 63 characters/);
    expect(() => peerApplicationName('vet med:', '1')).toThrow(TypeError);
    expect(() => peerApplicationName('vetmed:', '')).toThrow(/instanceId/);
  });
});

describe('watchPeerInstances', () => {
  it('bounds the effective limit by the share, follows instances coming and going, and forgets the gone', async () => {
    let listed: Array<string | null> = ['app:a', 'app:b', 'other-tool', null];
    let looks = 0;
    const { clock, safeguards, watch } = watchOnManualClock({
      headroom: 0,
      rememberMs: 5000,
      listApplicationNames: async () => {
        looks++;
        return listed;
      },
    });
    await clock.advance(0);
    expect(looks).toBe(1);
    expect(safeguards.limit.limit).toBe(4);
    expect(safeguards.limit.limitedBy).toBe('peers');
    expect(watch.stats()).toMatchObject({ instances: 2, share: 4, failures: 0 });

    listed = ['app:a', 'app:b', 'app:c', 'app:d'];
    await clock.advance(1000);
    expect(safeguards.limit.limit).toBe(2);

    // c and d lose their connections: they still count for rememberMs, then their share comes back.
    listed = ['app:a', 'app:b'];
    await clock.advance(4000);
    expect(safeguards.limit.limit).toBe(2);
    await clock.advance(2000);
    expect(safeguards.limit.limit).toBe(4);

    watch.stop();
    expect(safeguards.limit.limit).toBe(8);
    const before = looks;
    await clock.advance(5000);
    expect(looks).toBe(before);
    await safeguards.close();
  });

  it('keeps the last share when a look fails, and says why', async () => {
    let fail = false;
    const { clock, safeguards, watch } = watchOnManualClock({
      headroom: 0,
      listApplicationNames: async () => {
        if (fail) throw new Error('connection refused');
        return ['app:a', 'app:b'];
      },
    });
    await clock.advance(0);
    fail = true;
    await clock.advance(1000);
    expect(safeguards.limit.limit).toBe(4);
    expect(watch.stats()).toMatchObject({ failures: 1, lastError: 'connection refused', share: 4 });
    watch.stop();
    await safeguards.close();
  });

  it('refuses options that cannot work', () => {
    const safeguards = createSafeguards();
    const base = { capacity: 8, self: 'app:a', prefix: 'app:', listApplicationNames: async () => [] };
    expect(() => watchPeerInstances(safeguards, { ...base, self: 'a' })).toThrow(/start with prefix/);
    expect(() => watchPeerInstances(safeguards, { ...base, capacity: 0 })).toThrow(/capacity/);
    expect(() => watchPeerInstances(safeguards, { ...base, intervalMs: 1 })).toThrow(/intervalMs/);
    expect(() => watchPeerInstances(safeguards, { ...base, headroom: 8 })).toThrow(/headroom/);
    expect(() => watchPeerInstances(safeguards, { ...base, listApplicationNames: 'no' as never })).toThrow(
      /listApplicationNames/,
    );
  });
});

describe('watchPeerInstances while idle', () => {
  it('does not look while isBusy says the instance is idle, and keeps the last share', async () => {
    let busy = true;
    let looks = 0;
    const { clock, safeguards, watch } = watchOnManualClock({
      headroom: 0,
      isBusy: () => busy,
      listApplicationNames: async () => {
        looks++;
        return ['app:a', 'app:b'];
      },
    });
    await clock.advance(0);
    busy = false;
    await clock.advance(5000);
    expect(looks).toBe(1);
    expect(safeguards.limit.limit).toBe(4);
    busy = true;
    await clock.advance(1000);
    expect(looks).toBe(2);
    watch.stop();
    await safeguards.close();
  });
});

describe('watchPeerInstances headroom', () => {
  it('leaves one slot out of the split by default, so a squeezed-out instance can connect and be seen', async () => {
    let listed = ['app:a', 'app:a', 'app:a'];
    const { clock, safeguards, watch } = watchOnManualClock({
      listApplicationNames: async () => listed,
    });
    await clock.advance(0);
    // Alone: 7 of 8, one left for a newcomer.
    expect(safeguards.limit.limit).toBe(7);
    listed = ['app:a', 'app:b', 'app:c', 'app:d'];
    await clock.advance(1000);
    // Four: 7 split as 2, 2, 2, 1 by sorted name; "app:a" comes first.
    expect(safeguards.limit.limit).toBe(2);
    expect(['app:a', 'app:b', 'app:c', 'app:d'].map((self) => peerShare(7, self, listed))).toEqual([
      2, 2, 2, 1,
    ]);
    watch.stop();
    await safeguards.close();
  });
});

describe('watchPeerInstances onChange', () => {
  it('reports a look that changed the instances counted or the share, and not the others', async () => {
    let listed = ['app:a'];
    const changes: Array<{ instances: number; share: number }> = [];
    const { clock, safeguards, watch } = watchOnManualClock({
      listApplicationNames: async () => listed,
      onChange: ({ instances, share }) => changes.push({ instances, share }),
    });
    await clock.advance(0);
    listed = ['app:a', 'app:b'];
    await clock.advance(1000);
    await clock.advance(1000);
    expect(changes).toEqual([{ instances: 2, share: 4 }]);
    watch.stop();
    await safeguards.close();
  });
});
