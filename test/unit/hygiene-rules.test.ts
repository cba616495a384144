/**
 * The hygiene rule table, its settings, and the documentation that lists it: every rule and limit
 * is documented with its status, every setting validates at start-up with a message naming the key.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HYGIENE_RULES, HYGIENE_RULE_IDS, SWITCHABLE_RULE_IDS, DEFAULT_LIMITS } from '../../src/authz/hygiene/index.js';
import { canonicalHost } from '../../src/authz/hygiene/host.js';
import { loadConfig, requestHygiene } from '../../src/config/load.js';
import { CONFIG_KEYS } from '../../src/config/schema.js';
import { ROOT } from '../support/tools.js';

const config = (flags: Record<string, string>) => loadConfig({ flags: { bundle: 'b.tar.gz', ...flags }, env: {} });
const inputDoc = readFileSync(path.join(ROOT, 'docs/input.md'), 'utf8');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('hygiene rules', () => {
  it.each(HYGIENE_RULE_IDS)('%s is documented in docs/input.md with its status', (id) => {
    const rule = HYGIENE_RULES[id];
    const row = inputDoc.split('\n').find((line) => line.startsWith(`| \`${id}\` |`));
    expect(row, `no table row for ${id}`).toBeDefined();
    expect(row).toContain(`| ${rule.status} |`);
    if (rule.limit) expect(row).toContain(`\`${rule.limit}\` | ${DEFAULT_LIMITS[rule.limit]} |`);
  });

  it('every setting is in the README and in CONFIG_KEYS with the default of the table', () => {
    for (const key of ['request_hygiene', 'request_hygiene_allow', ...Object.keys(DEFAULT_LIMITS)]) {
      expect(readme).toContain(`\`${key}\``);
      expect(CONFIG_KEYS).toHaveProperty(key);
    }
    for (const [key, value] of Object.entries(DEFAULT_LIMITS)) expect(CONFIG_KEYS[key as keyof typeof CONFIG_KEYS].default).toBe(value);
  });

  it('is strict by default; compatible switches every rule off, keeps the limits', () => {
    const strict = requestHygiene(config({}));
    expect(strict.mode).toBe('strict');
    expect([...strict.on].sort()).toEqual([...SWITCHABLE_RULE_IDS].sort());
    const compatible = requestHygiene(config({ 'request-hygiene': 'compatible', 'max-headers': '64' }));
    expect(compatible.on.size).toBe(0);
    expect(compatible.strictParsing).toBe(false);
    expect(compatible.limits.max_headers).toBe(64);
  });

  it('request_hygiene_allow switches single rules off', () => {
    const settings = requestHygiene(config({ 'request-hygiene-allow': 'path_parameters,underscore_header' }));
    expect(settings.on.has('path_parameters')).toBe(false);
    expect(settings.on.has('underscore_header')).toBe(false);
    expect(settings.on.has('path_separator_in_segment')).toBe(true);
  });

  it('refuses unknown rules, limits, and contradictions at start-up, naming the key and the fix', () => {
    expect(() => config({ 'request-hygiene-allow': 'path_params' })).toThrow(/request_hygiene_allow .*"path_params", which is not a hygiene rule .*path_parameters.*Fix: set --request-hygiene-allow/);
    expect(() => config({ 'request-hygiene-allow': 'path_too_long' })).toThrow(/not a hygiene rule/); // limits have their own keys
    expect(() => config({ 'request-hygiene': 'lenient' })).toThrow(/request_hygiene .*must be one of strict, compatible/);
    expect(() => config({ 'max-path-bytes': '10' })).toThrow(/max_path_bytes .*between 256 and/);
    expect(() => config({ 'max-json-depth': '500' })).toThrow(/max_json_depth .*between 1 and 128/);
    expect(() => config({ 'request-hygiene': 'compatible', 'request-hygiene-allow': 'path_parameters' })).toThrow(/request_hygiene_allow only matters with request_hygiene: strict.*Fix:/);
  });
});

describe('canonical host', () => {
  it.each([
    ['inventory.shop.svc', 'https', 'inventory.shop.svc', 443, 'inventory.shop.svc'],
    ['ADMIN.Example.com.', 'https', 'admin.example.com', 443, 'admin.example.com'],
    ['admin.example.com:443', 'https', 'admin.example.com', 443, 'admin.example.com'],
    ['admin.example.com:443', 'http', 'admin.example.com', 443, 'admin.example.com'],
    ['admin.example.com:8443', 'https', 'admin.example.com', 8443, 'admin.example.com:8443'],
    ['svc:8080', undefined, 'svc', 8080, 'svc:8080'],
    ['svc', undefined, 'svc', undefined, 'svc'],
    ['[::1]:80', 'http', '[::1]', 80, '[::1]'],
  ])('%s (%s)', (raw, scheme, name, port, authority) => {
    expect(canonicalHost(raw, scheme)).toEqual({ name, authority, ...(port === undefined ? {} : { port }) });
  });

  it.each(['user@host', 'ho st', 'host:99999', 'host:8o', 'a..b', 'h%2eost', 'caf\u00e9.example'])('%s has none', (raw) => {
    expect(typeof canonicalHost(raw, 'https')).toBe('string');
  });
});
