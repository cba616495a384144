/**
 * crypto.* called directly, and the pieces under the X.509 shapes: the strict DER reader (Go's
 * cryptobyte rules), net/url and net.IP text as Go writes them, the digests. Exactness against OPA
 * on real certificates is test/integration/builtins-crypto.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptoBuiltins } from '../../../src/policy/builtins/crypto.js';
import { DerReader, bitString, integer, oid, time, TAG } from '../../../src/policy/builtins/der.js';
import type { RegoValue } from '../../../src/policy/builtins/types.js';
import { goIpString, goUrl, goUrlText } from '../../../src/policy/builtins/x509-url.js';
import { testContext } from '../../support/jose-fixtures.js';

const call = (name: string, ...args: RegoValue[]) => cryptoBuiltins[name]!.fn(testContext(), ...args);

describe('digests and HMACs', () => {
  it('hash the UTF-8 bytes, hex encoded', () => {
    expect(call('crypto.md5', 'hello')).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(call('crypto.sha1', '')).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(call('crypto.sha256', 'é')).toBe('4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c');
    expect(call('crypto.hmac.sha256', 'message', 'key')).toBe('6e9ef29b75fffc5b7abae527d58fdadb2fe42e7219011976917343065f58ed4a');
    expect(call('crypto.hmac.equal', 'a', 'a')).toBe(true);
    expect(call('crypto.hmac.equal', 'a', 'ab')).toBe(false);
  });

  it('refuse non-string operands with OPA\'s wording', () => {
    expect(() => call('crypto.sha256', 1)).toThrow('crypto.sha256: operand 1 must be string but got number');
    expect(() => call('crypto.hmac.sha1', 'm', null)).toThrow('operand 2 must be string but got null');
  });
});

describe('DER reader (cryptobyte rules)', () => {
  it('reads definite minimal lengths and refuses the rest', () => {
    expect(new DerReader(Buffer.from('0403616263', 'hex')).read(TAG.OCTET_STRING, 'x').content.toString()).toBe('abc');
    expect(() => new DerReader(Buffer.from('048103616263', 'hex')).readAny()).toThrow(/non-minimal length/);
    expect(() => new DerReader(Buffer.from('0480616263', 'hex')).readAny()).toThrow(/unsupported length/);
    expect(() => new DerReader(Buffer.from('0405616263', 'hex')).readAny()).toThrow(/truncated/);
  });

  it('decodes integers, OIDs, bit strings and times as Go does', () => {
    expect(integer(Buffer.from('ff', 'hex'))).toBe(-1n);
    expect(integer(Buffer.from('0080', 'hex'))).toBe(128n);
    expect(() => integer(Buffer.from('0001', 'hex'))).toThrow(/non-minimal integer/);
    expect(oid(Buffer.from('2a864886f70d010101', 'hex'))).toEqual([1, 2, 840, 113549, 1, 1, 1]);
    expect(oid(Buffer.from('8837', 'hex'))).toEqual([2, 999]);
    const bits = bitString(Buffer.from('0780', 'hex'));
    expect(bits.at(0)).toBe(1);
    expect(bits.bytes).toEqual(Buffer.from('01', 'hex')); // RightAlign
    expect(() => bitString(Buffer.from('07ff', 'hex'))).toThrow(/malformed bit string/);
    expect(time({ tag: TAG.UTCTime, content: Buffer.from('491231235959Z'), raw: Buffer.alloc(0) })).toBe('2049-12-31T23:59:59Z');
    expect(time({ tag: TAG.UTCTime, content: Buffer.from('500101000000Z'), raw: Buffer.alloc(0) })).toBe('1950-01-01T00:00:00Z');
    expect(time({ tag: TAG.GeneralizedTime, content: Buffer.from('20500101000000+0130'), raw: Buffer.alloc(0) })).toBe('2050-01-01T00:00:00+01:30');
    expect(() => time({ tag: TAG.GeneralizedTime, content: Buffer.from('20500101000000.5Z'), raw: Buffer.alloc(0) })).toThrow();
    expect(() => time({ tag: TAG.UTCTime, content: Buffer.from('491331235959Z'), raw: Buffer.alloc(0) })).toThrow();
  });
});

describe('Go text of URLs and IPs', () => {
  it('url.Parse fields and url.URL.String', () => {
    const url = goUrl('HTTPS://u:p@Host.example:8443/a%20b?q=1#f%21');
    expect({ ...url }).toEqual({ Scheme: 'https', Opaque: '', User: {}, Host: 'Host.example:8443', Path: '/a b', RawPath: '', OmitHost: false, ForceQuery: false, RawQuery: 'q=1', Fragment: 'f!', RawFragment: 'f%21' });
    expect(goUrlText(url)).toBe('https://u:p@Host.example:8443/a%20b?q=1#f%21');
    expect({ ...goUrl('urn:uuid:1') }).toMatchObject({ Scheme: 'urn', Opaque: 'uuid:1', Path: '' });
    expect(goUrl('spiffe://td/a%2Fb')).toMatchObject({ Path: '/a/b', RawPath: '/a%2Fb' });
    expect(() => goUrl('http://[::1')).toThrow(/missing '\]'/);
  });

  it('net.IP.String', () => {
    expect(goIpString(Buffer.from([10, 0, 0, 1]))).toBe('10.0.0.1');
    expect(goIpString(Buffer.from('00000000000000000000ffff01020304', 'hex'))).toBe('1.2.3.4');
    expect(goIpString(Buffer.alloc(16))).toBe('::');
    expect(goIpString(Buffer.from('fe800000000000000001000000000001', 'hex'))).toBe('fe80::1:0:0:1');
    expect(goIpString(Buffer.from('20010db8000000010000000000000001', 'hex'))).toBe('2001:db8:0:1::1');
  });
});

describe('x509 builtins on bad input', () => {
  it('parse errors are builtin errors; verification failures are [false, []]', () => {
    expect(() => call('crypto.x509.parse_certificates', 'not base64!')).toThrow(/crypto.x509.parse_certificates: illegal base64 data/);
    expect(call('crypto.x509.parse_certificates', '')).toEqual([]);
    expect(call('crypto.x509.parse_and_verify_certificates', 'junk')).toEqual([false, []]);
    expect(() => call('crypto.x509.parse_and_verify_certificates_with_options', 'junk', 5)).toThrow(/operand 2 must be object/);
    expect(call('crypto.parse_private_keys', '')).toBe(null);
    expect(call('crypto.parse_private_keys', 'junk')).toEqual([]);
    expect(() => call('crypto.x509.parse_rsa_private_key', '')).toThrow(/input PEM data was empty/);
  });

  it('a chain verified by the clock bounds the decision\'s reuse by its first NotAfter', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-x509-unit-'));
    const make = (name: string, days: string, ...extra: string[]) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/${name}.key`, '-out', `${dir}/${name}.crt`, '-days', days, '-subj', `/CN=${name}`, ...extra], { stdio: 'ignore' });
      return readFileSync(`${dir}/${name}.crt`, 'utf8');
    };
    const root = make('root', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    const leaf = make('leaf', '2', '-CA', `${dir}/root.crt`, '-CAkey', `${dir}/root.key`);
    const ctx = testContext(BigInt(Date.now()) * 1_000_000n);
    const [verified, chain] = cryptoBuiltins['crypto.x509.parse_and_verify_certificates']!.fn(ctx, `${root}${leaf}`) as [boolean, { NotAfter: string }[]];
    expect(verified).toBe(true);
    expect(ctx.validUntil).toEqual([BigInt(Date.parse(chain[0]!.NotAfter)) * 1_000_000n]);
    const fixed = testContext(BigInt(Date.now()) * 1_000_000n);
    cryptoBuiltins['crypto.x509.parse_and_verify_certificates_with_options']!.fn(fixed, `${root}${leaf}`, Object.assign(Object.create(null), { CurrentTime: Date.now() * 1e6 }));
    expect(fixed.validUntil).toEqual([]);
  });

  it('the chain verifiers read the clock and say so', () => {
    expect(cryptoBuiltins['crypto.x509.parse_and_verify_certificates']!.nondeterministic).toBe(true);
    expect(cryptoBuiltins['crypto.x509.parse_and_verify_certificates_with_options']!.note).toMatch(/clock/);
  });
});
