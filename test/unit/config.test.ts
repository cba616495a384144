import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/policy.js';
import { ROOT } from '../support/tools.js';

const base = { bundle: 'b.tar.gz' };

describe('configuration', () => {
  it('has sensible defaults', () => {
    const config = loadConfig({ flags: base, env: {} });
    expect(config).toMatchObject({
      addr: { kind: 'tcp', host: '0.0.0.0', port: 9191 },
      admin_addr: { kind: 'tcp', host: '0.0.0.0', port: 9192 },
      entrypoint: 'envoy/authz/allow',
      log_level: 'info',
      max_body_bytes: 1048576,
      watch: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('layers file < environment < flags', () => {
    const dir = tempDir();
    const file = path.join(dir, 'gatehouse.yaml');
    writeFileSync(file, 'bundle: from-file.tar.gz\nlog_level: debug\nmax_body_bytes: 100\n');
    const config = loadConfig({ file, env: { GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_MAX_BODY_BYTES: '200' }, flags: { 'max-body-bytes': '300' } });
    expect(config.bundle).toBe('from-file.tar.gz');
    expect(config.log_level).toBe('warn');
    expect(config.max_body_bytes).toBe(300);
  });

  it('parses unix sockets, IPv6 and "off"', () => {
    const config = loadConfig({ flags: { ...base, addr: 'unix:///run/gatehouse.sock', 'admin-addr': 'off' }, env: {} });
    expect(config.addr).toMatchObject({ kind: 'unix', path: '/run/gatehouse.sock' });
    expect(config.admin_addr).toBeNull();
    expect(loadConfig({ flags: { ...base, addr: '[::1]:9000' }, env: {} }).addr).toMatchObject({ host: '::1', port: 9000 });
  });

  it.each([
    [{}, 'bundle (default) is required. Fix: set --bundle'],
    [{ ...base, addr: '9191' }, 'addr (flag --addr) must be host:port'],
    [{ ...base, addr: ':70000' }, 'above 65535'],
    [{ ...base, addr: 'unix://relative.sock' }, 'unix:///absolute/path'],
    [{ ...base, 'max-body-bytes': 'lots' }, 'max_body_bytes (flag --max-body-bytes) must be an integer, got "lots"'],
    [{ ...base, 'max-body-bytes': '-1' }, 'must be between 0 and'],
    [{ ...base, 'log-level': 'loud' }, 'log_level (flag --log-level) must be one of trace, debug, info'],
    [{ ...base, entrypoint: 'envoy.authz.allow' }, 'entrypoint (flag --entrypoint) must be a slash-separated rule path'],
    [{ ...base, watch: 'maybe' }, 'watch (flag --watch) must be true or false'],
    [{ ...base, 'shutdown-drain-ms': '-5' }, 'shutdown_drain_ms (flag --shutdown-drain-ms) must be between 0 and'],
    [{ ...base, 'bundle-accept-unverified-signatures': 'true', 'bundle-verification-key-file': '/k.pem' }, 'bundle_accept_unverified_signatures contradicts bundle_verification_key_file'],
  ])('rejects %j naming the key and the fix', (flags, message) => {
    expect(() => loadConfig({ flags, env: {} })).toThrow(message);
  });

  it('names environment variables as the origin', () => {
    expect(() => loadConfig({ flags: base, env: { GATEHOUSE_SHUTDOWN_TIMEOUT_MS: 'soon' } })).toThrow(
      'shutdown_timeout_ms (environment variable GATEHOUSE_SHUTDOWN_TIMEOUT_MS) must be an integer',
    );
  });

  it('loads the documented example file', () => {
    const config = loadConfig({ file: path.join(ROOT, 'examples/gatehouse.yaml'), flags: {}, env: {} });
    expect(config).toMatchObject({ bundle: 'build/bundle.tar.gz', trust_domains: ['mesh.local'], decision_log_mask: ['/input/parsed_body/password'] });
  });

  it('takes max_connection_age_ms 0 (off) or at least 10000, naming the key otherwise', () => {
    expect(loadConfig({ flags: { ...base, 'max-connection-age-ms': '0' }, env: {} }).max_connection_age_ms).toBe(0);
    expect(loadConfig({ flags: { ...base, 'max-connection-age-ms': '10000' }, env: {} }).max_connection_age_ms).toBe(10_000);
    for (const ms of ['1', '9999']) {
      expect(() => loadConfig({ flags: { ...base, 'max-connection-age-ms': ms }, env: {} })).toThrow(
        `max_connection_age_ms (flag --max-connection-age-ms) must be 0 (off) or at least 10000`,
      );
    }
  });

  it('rejects unknown keys in the file with a suggestion', () => {
    const dir = tempDir();
    const file = path.join(dir, 'gatehouse.yaml');
    writeFileSync(file, 'bundle: b\nadminAddr: ":1"\n');
    expect(() => loadConfig({ file, flags: {}, env: {} })).toThrow('unknown key "adminAddr" in config file');
    expect(() => loadConfig({ file, flags: {}, env: {} })).toThrow('did you mean "admin_addr"?');
    writeFileSync(file, '- a\n- b\n');
    expect(() => loadConfig({ file, flags: {}, env: {} })).toThrow('must be a YAML mapping');
  });
});
