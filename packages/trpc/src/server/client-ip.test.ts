import { describe, expect, it } from 'vitest';
import { clientIp, isProxyRule } from './client-ip.js';

const request = (remoteAddress: string | undefined, xff?: string) => ({
  remoteAddress,
  headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
});

describe('clientIp', () => {
  it('ignores X-Forwarded-For unless a proxy is trusted', () => {
    expect(clientIp(request('10.0.0.5', '1.2.3.4'))).toBe('10.0.0.5');
    expect(clientIp(request('::ffff:10.0.0.5', '1.2.3.4'), false)).toBe('10.0.0.5');
  });

  it('true is one trusted hop: the rightmost entry, whatever the client put before it', () => {
    expect(clientIp(request('10.0.0.5', 'spoofed, 1.2.3.4'), true)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.5', '6.6.6.6, 1.2.3.4'), true)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.5', '1.2.3.4'), true)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.5'), true)).toBe('10.0.0.5');
  });

  it('counts trusted hops from the right', () => {
    expect(clientIp(request('10.0.0.5', 'spoofed, 1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.5', 'spoofed, 1.2.3.4, 10.0.0.9'), 2)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.5', '1.2.3.4'), 5)).toBe('1.2.3.4');
  });

  it('with a list, only a trusted peer may forward, and trusted hops are skipped from the right', () => {
    const trusted = ['10.0.0.0/8', '192.168.1.1'];
    expect(clientIp(request('203.0.113.7', '1.2.3.4'), trusted)).toBe('203.0.113.7');
    expect(clientIp(request('10.1.2.3', 'spoofed, 1.2.3.4, 192.168.1.1'), trusted)).toBe('1.2.3.4');
    expect(clientIp(request('192.168.1.1', '10.9.9.9'), trusted)).toBe('10.9.9.9');
  });

  it('with a list, IPv6 proxies and ranges are matched too; isProxyRule rejects what would trust nobody', () => {
    const trusted = ['fd00::/8', '2001:db8::1'];
    expect(clientIp(request('fd12:3456::9', '2001:db8:aa::5'), trusted)).toBe('2001:db8:aa::5');
    expect(clientIp(request('2001:db8::1', '198.51.100.3'), trusted)).toBe('198.51.100.3');
    expect(clientIp(request('fe80::1', '198.51.100.3'), trusted)).toBe('fe80::1');
    expect(clientIp(request('10.0.0.1', '198.51.100.3'), trusted)).toBe('10.0.0.1');
    for (const rule of ['10.0.0.0/8', '192.168.1.1', 'fd00::/8', '::1', '2001:db8::/32'])
      expect(isProxyRule(rule), rule).toBe(true);
    for (const rule of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'proxy.internal', '1.2.3.4/8/8', ''])
      expect(isProxyRule(rule), rule).toBe(false);
  });

  it('reads Fetch API headers too', () => {
    expect(
      clientIp({ remoteAddress: '10.0.0.1', headers: new Headers({ 'x-forwarded-for': '1.2.3.4' }) }, 1),
    ).toBe('1.2.3.4');
  });
});
