/** http_addr and http_trusted_proxies at start-up: defaults and bad values. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const load = (flags: Record<string, string>) => loadConfig({ flags: { bundle: 'b.tar.gz', ...flags }, env: {} });

describe('http_addr / http_trusted_proxies', () => {
  it('are off and empty by default (secure by default: no proxy is trusted)', () => {
    const config = load({});
    expect(config.http_addr).toBeNull();
    expect(config.http_trusted_proxies).toEqual([]);
  });

  it('take an address and a list of IPs and CIDR blocks', () => {
    const config = load({ 'http-addr': '127.0.0.1:9193', 'http-trusted-proxies': '10.0.0.0/8,::1,127.0.0.1' });
    expect(config.http_addr).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 9193 });
    expect(config.http_trusted_proxies).toEqual(['10.0.0.0/8', '::1', '127.0.0.1']);
  });

  it('refuse an entry that is not an IP or CIDR block, naming the key', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::1/129']) {
      expect(() => load({ 'http-addr': ':9193', 'http-trusted-proxies': bad })).toThrow(/http_trusted_proxies.*not an IP address or CIDR block/s);
    }
  });
});
