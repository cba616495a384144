/**
 * providers.aws.sign_req against `opa eval`: services with and without the content-hash header,
 * session tokens, unsigned payloads, raw and JSON bodies, escaped paths and queries, ignored and
 * mixed-case headers, and the argument errors. One opa eval for all.
 */
import { describe, it } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { expectSameAsOpa, type BuiltinCase } from '../support/builtin-oracle.js';
import { pickOne, seededRandom } from '../support/seeded-random.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const CONFIG = { aws_service: 'execute-api', aws_access_key: 'AKIDEXAMPLE', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', aws_region: 'us-east-1' };

function cases(): BuiltinCase[] {
  const requests: RegoValue[] = [
    { method: 'GET', url: 'https://example.amazonaws.com/' },
    { method: 'GET', url: 'https://example.amazonaws.com/a b/c%2Fd/é?x=1&y=a%20b' },
    { method: 'POST', url: 'https://example.amazonaws.com:8443/path', body: { b: [1, 2], a: 'x<y' } },
    { method: 'PUT', url: 'https://bucket.s3.amazonaws.com/key', raw_body: 'hello', body: { ignored: true } },
    { method: 'GET', url: 'https://example.amazonaws.com/', headers: { 'X-Custom': 'v', 'User-Agent': 'ua', authorization: 'old', 'X-Amzn-Trace-Id': 't', host: 'h', n: 1 } },
    { method: 'GET', url: 'https://example.amazonaws.com/*' },
    { method: 'GET', url: 'https://example.amazonaws.com/a/../b/./c//d' },
    { method: 'GET', url: 'https://user:pw@example.amazonaws.com/x' },
    { method: 'get', url: 'relative/path?q' },
    { method: 'GET', url: 'https://example.amazonaws.com/', timeout: '5s' },
    { method: 'GET', url: 'https://example.amazonaws.com/', bogus: 1 },
    { url: 'https://example.amazonaws.com/' },
    { method: 1, url: 'https://example.amazonaws.com/' },
    { method: 'GET', url: 'https://example.amazonaws.com/', headers: 'nope' },
    { method: 'GET', url: '%zz' },
  ];
  const configs: RegoValue[] = [
    CONFIG,
    { ...CONFIG, aws_service: 's3' },
    { ...CONFIG, aws_service: 'glacier', aws_session_token: 'TOKEN' },
    { ...CONFIG, aws_service: 's3', disable_payload_signing: true },
    { ...CONFIG, disable_payload_signing: 'yes' },
    { ...CONFIG, aws_session_token: 5 },
    { aws_service: 's3' },
    { ...CONFIG, aws_region: 7 },
  ];
  const times: RegoValue[] = [1_700_000_000_000_000_000n as unknown as RegoValue, 0, -1_000_000_001, 1.5];
  const out: BuiltinCase[] = [];
  for (const r of requests) for (const c of configs.slice(0, 4)) out.push({ builtin: 'providers.aws.sign_req', args: [r, c, times[0]!] });
  for (const c of configs.slice(4)) out.push({ builtin: 'providers.aws.sign_req', args: [requests[0]!, c, times[0]!] });
  for (const t of times) out.push({ builtin: 'providers.aws.sign_req', args: [requests[2]!, configs[1]!, t] });
  out.push(...randomRequests());
  return out;
}

/** Seeded random requests: paths and queries with reserved, escaped and non-ASCII characters, header names and values, bodies. */
function randomRequests(): BuiltinCase[] {
  const rand = seededRandom(0x617773);
  const pieces = ['a', 'Z', '0', '-', '_', '.', '~', '/', '%2F', '%41', '%zz', ' ', '+', '!', '$', '&', "'", '(', ')', '*', ',', ';', '=', ':', '@', '[', ']', 'é', '?', '#'];
  const text = (n: number) => Array.from({ length: Math.floor(rand() * n) }, () => pickOne(rand, pieces)).join('');
  const out: BuiltinCase[] = [];
  for (let i = 0; i < 200; i++) {
    const url = `${pickOne(rand, ['https', 'http'])}://${pickOne(rand, ['example.amazonaws.com', 'h:8080', 'user@h', '[::1]:9'])}/${text(10)}`;
    const headers: Record<string, RegoValue> = {};
    for (let h = 0; h < Math.floor(rand() * 3); h++) headers[pickOne(rand, ['X-A', 'x-b', 'Content-Type', 'Host', 'X-Amz-Date', 'User-Agent'])] = pickOne(rand, [' v ', 'a,b', '', 'é', 'x  y']);
    const request: Record<string, RegoValue> = { method: pickOne(rand, ['GET', 'POST', 'put']), url, headers };
    if (rand() < 0.3) request.raw_body = text(8);
    else if (rand() < 0.3) request.body = { k: text(5) };
    out.push({ builtin: 'providers.aws.sign_req', args: [request, pickOne(rand, [CONFIG, { ...CONFIG, aws_service: 's3' }]), 1_700_000_000_123_456_789n as unknown as RegoValue] });
  }
  return out;
}

describe.skipIf(tool.skip)('providers.aws.sign_req against opa eval', () => {
  it('gives the results OPA gives', () => {
    expectSameAsOpa(tool.opa, cases(), { minDefined: 0.5, someUndefined: true });
  }, 60_000);
});
