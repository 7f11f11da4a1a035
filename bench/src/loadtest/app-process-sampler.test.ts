import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { metricValue, sampleAppProcess } from './app-process-sampler.js';

describe('the app process sampler', () => {
  it('reads unlabelled samples of Prometheus text, and nothing else', () => {
    const text = [
      '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.',
      '# TYPE process_cpu_seconds_total counter',
      'process_cpu_seconds_total 12.5',
      'nodejs_eventloop_lag_p99_seconds 0.042',
      'http_requests_total{route="other"} 7',
    ].join('\n');
    expect(metricValue(text, 'process_cpu_seconds_total')).toBe(12.5);
    expect(metricValue(text, 'nodejs_eventloop_lag_p99_seconds')).toBe(0.042);
    expect(metricValue(text, 'http_requests_total')).toBeUndefined();
  });

  it('turns CPU seconds into cores per interval, with the bearer token, and reports the peak lag', async () => {
    let cpuSeconds = 0;
    const tokens: Array<string | undefined> = [];
    const server = createServer((request, response) => {
      tokens.push(request.headers.authorization);
      // Half a core: 0.05 s of CPU per 100 ms scrape interval.
      cpuSeconds += 0.05;
      // p99 of 120 ms: 20 ms beyond the monitor's 100 ms interval.
      response.end(`process_cpu_seconds_total ${cpuSeconds}\nnodejs_eventloop_lag_p99_seconds 0.12\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const sampler = sampleAppProcess(`http://127.0.0.1:${port}`, 'scrape-token', 100);
      await new Promise((resolve) => setTimeout(resolve, 650));
      const load = sampler.stop();
      expect(load).toBeDefined();
      expect(load!.samples).toBeGreaterThanOrEqual(3);
      // Wall time between scrapes varies on a busy machine; the mean stays near half a core.
      expect(load!.cpuCoresMean).toBeGreaterThan(0.2);
      expect(load!.cpuCoresMean).toBeLessThan(1);
      expect(load!.eventLoopLagP99MsPeak).toBeCloseTo(20);
      expect(new Set(tokens)).toEqual(new Set(['Bearer scrape-token']));
    } finally {
      server.close();
    }
  });

  it('gives nothing when the metrics cannot be read (metrics off: 404)', async () => {
    const server = createServer((_request, response) => {
      response.statusCode = 404;
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const sampler = sampleAppProcess(`http://127.0.0.1:${port}`, 'x', 50);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(sampler.stop()).toBeUndefined();
    } finally {
      server.close();
    }
  });
});
