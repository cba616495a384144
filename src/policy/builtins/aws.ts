/**
 * Host builtin: providers.aws.sign_req (topdown/providers.go, internal/providers/aws SignV4): AWS
 * Signature Version 4 over the request object, at the time given in nanoseconds (so the builtin
 * itself is deterministic). https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
 */
import { createHash, createHmac } from 'node:crypto';
import { newObject, objectArg } from './args.js';
import { parseUrl, UrlError, type GoUrl } from './go-url.js';
import { parseRegoValue } from '../rego-value.js';
import { goJsonCompact, numbersAsWritten } from './json.js';
import { BuiltinError, type BuiltinFamily, type RegoObject, type RegoValue } from './types.js';
import { compareStrings } from './value-order.js';

const NAME = 'providers.aws.sign_req';
const fail = (message: string) => new BuiltinError(NAME, message);

/** The request keys http.send accepts (sign_req checks against the same list). */
const ALLOWED_REQUEST_KEYS = new Set([
  'method', 'url', 'body', 'enable_redirect', 'force_json_decode', 'force_yaml_decode', 'headers', 'raw_body', 'tls_use_system_certs',
  'tls_ca_cert', 'tls_ca_cert_file', 'tls_ca_cert_env_variable', 'tls_client_cert', 'tls_client_cert_file', 'tls_client_cert_env_variable',
  'tls_client_key', 'tls_client_key_file', 'tls_client_key_env_variable', 'tls_insecure_skip_verify', 'tls_server_name', 'timeout', 'cache',
  'force_cache', 'force_cache_duration_seconds', 'raise_error', 'caching_mode', 'max_retry_attempts', 'cache_ignored_headers',
]);
const REQUIRED_CONFIG_KEYS = ['aws_service', 'aws_access_key', 'aws_secret_access_key', 'aws_region'];
const IGNORED_HEADERS = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

const str = (v: RegoValue | undefined) => (typeof v === 'string' ? v : '');
const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, message: string) => createHmac('sha256', key).update(message).digest();

/** Go's shouldEscape(c, encodePath) for one byte. */
function shouldEscapePathByte(c: number): boolean {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-_.~]/.test(ch)) return false;
  return !'$&+,/:;=@'.includes(ch);
}

/** url.URL.EscapedPath */
function escapedPath(u: GoUrl): string {
  const valid = (s: string) =>
    [...Buffer.from(s, 'utf8')].every((c) => "!$&'()*+,;=:@[]%".includes(String.fromCharCode(c)) || !shouldEscapePathByte(c));
  if (u.rawPath !== '' && valid(u.rawPath)) return u.rawPath;
  if (u.path === '*') return '*';
  return [...Buffer.from(u.path, 'utf8')].map((c) => (shouldEscapePathByte(c) ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(c))).join('');
}

/** time.Unix(0, ns).UTC() as SigV4's two stamps. */
function stamps(ns: bigint): { date: string; iso: string } {
  const ms = ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n);
  const t = new Date(Number(ms));
  if (Number.isNaN(t.getTime())) throw fail('operand 3 could not convert time_ns value into a unix timestamp');
  const iso = t.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const date = iso.slice(0, 10).replaceAll('-', '');
  return { date, iso: `${date}T${iso.slice(11, 19).replaceAll(':', '')}Z` };
}

function signRequest(
  requestArg: RegoValue | undefined,
  configArg: RegoValue | undefined,
  timeArg: RegoValue | undefined,
  scalar?: (value: RegoValue) => string,
): RegoObject {
  const request = objectArg(NAME, 1, requestArg);
  const config = objectArg(NAME, 1, configArg);
  const missing = REQUIRED_CONFIG_KEYS.filter((k) => !Object.hasOwn(config, k));
  if (missing.length > 0) throw fail(`operand 2 missing required AWS config parameters(s): {${missing.map((k) => JSON.stringify(k)).join(', ')}}`);
  const invalid = REQUIRED_CONFIG_KEYS.filter((k) => typeof config[k] !== 'string');
  if (invalid.length > 0) throw fail(`operand 2 invalid values for required AWS config parameters(s): {${invalid.map((k) => JSON.stringify(k)).join(', ')}}`);
  const service = str(config.aws_service);
  const creds = { accessKey: str(config.aws_access_key), secretKey: str(config.aws_secret_access_key), region: str(config.aws_region), token: str(config.aws_session_token) };

  if (typeof timeArg !== 'number' && typeof timeArg !== 'bigint') throw fail('operand 1 must be number');
  if (typeof timeArg === 'number' && !Number.isInteger(timeArg)) throw fail('operand 3 could not convert time_ns value into a unix timestamp');
  const ns = BigInt(timeArg);
  if (ns < -(1n << 63n) || ns >= 1n << 63n) throw fail('operand 3 could not convert time_ns value into a unix timestamp');

  const unknown = Object.keys(request).filter((k) => !ALLOWED_REQUEST_KEYS.has(k));
  if (unknown.length > 0) throw fail(`operand 1 invalid request parameters(s): {${unknown.map((k) => JSON.stringify(k)).join(', ')}}`);
  const absent = ['method', 'url'].filter((k) => !Object.hasOwn(request, k));
  if (absent.length > 0) throw fail(`operand 1 missing required request parameters(s): {${absent.map((k) => JSON.stringify(k)).join(', ')}}`);
  const headersValue = Object.hasOwn(request, 'headers') ? request.headers! : newObject();
  const headers = objectArg(NAME, 0, headersValue);
  const badTypes = ['url', 'method'].filter((k) => typeof request[k] !== 'string');
  if (badTypes.length > 0) throw fail(`operand 1 invalid values for required request parameters(s): {${badTypes.map((k) => JSON.stringify(k)).join(', ')}}`);
  let url: GoUrl;
  try {
    url = parseUrl(request.url as string);
  } catch (error) {
    if (error instanceof UrlError) throw fail(error.message);
    throw error;
  }
  const method = request.method as string;
  const body = Object.hasOwn(request, 'raw_body')
    ? Buffer.from(str(request.raw_body), 'utf8')
    : Object.hasOwn(request, 'body')
      ? Buffer.from(goJsonCompact(request.body!, scalar), 'utf8')
      : Buffer.alloc(0);

  let disablePayloadSigning = false;
  if (Object.hasOwn(config, 'disable_payload_signing')) {
    if (typeof config.disable_payload_signing !== 'boolean') throw fail("operand 2 invalid value for 'disable_payload_signing' in AWS config");
    disablePayloadSigning = config.disable_payload_signing;
  }

  // SignV4
  const { date, iso } = stamps(ns);
  const contentSha256 = disablePayloadSigning ? 'UNSIGNED-PAYLOAD' : sha256Hex(body);
  const awsHeaders = new Map<string, string>([['host', url.host], ['x-amz-date', iso]]);
  if (service === 's3' || service === 'glacier') awsHeaders.set('x-amz-content-sha256', contentSha256);
  if (creds.token !== '') awsHeaders.set('x-amz-security-token', creds.token);
  const toSign = new Map<string, string>(awsHeaders);
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    if (!IGNORED_HEADERS.has(lower)) toSign.set(lower, str(v));
  }
  const keys = [...toSign.keys()].sort(compareStrings);
  const signedHeaders = keys.join(';');
  const canonical = `${method}\n${escapedPath(url)}\n${url.rawQuery}\n${keys.map((k) => `${k}:${toSign.get(k)}\n`).join('')}\n${signedHeaders}\n${contentSha256}`;
  const scope = `${date}/${creds.region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${iso}\n${scope}\n${sha256Hex(canonical)}`;
  let key = hmac(`AWS4${creds.secretKey}`, date);
  key = hmac(key, creds.region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const signature = hmac(key, stringToSign).toString('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKey}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;

  const outHeaders = newObject();
  for (const [k, v] of Object.entries(headers)) outHeaders[k] = str(v);
  outHeaders.Authorization = authorization;
  for (const [k, v] of awsHeaders) outHeaders[k] = v;
  const out = Object.assign(newObject(), request);
  out.headers = outHeaders;
  return out;
}

export const awsBuiltins: BuiltinFamily = {
  'providers.aws.sign_req': {
    fn: (_ctx, request, config, time) => signRequest(request, config, time),
    // a JSON body is signed as OPA writes it: numbers as the policy wrote them (1.0 stays 1.0)
    fnText: (_ctx, request, config, time) =>
      signRequest(parseRegoValue(request!), parseRegoValue(config!), parseRegoValue(time!), numbersAsWritten(request!)),
  },
};
