/**
 * An HTTP authorization request (nginx `auth_request`, Traefik `forwardAuth`, Envoy's ext_authz
 * `http_service`) → the CheckRequest Envoy's gRPC ext_authz would have sent for the same original
 * request, so that authz/input builds the same opa-envoy-plugin input document from it and the rest
 * of the pipeline (hygiene, cache, policy, decision log) is the gRPC one. Pure: no I/O.
 *
 * Which request is "the original":
 * - Envoy `http_service` sends the original method, path (after `path_prefix`, which should be
 *   unset), headers (its `allowed_headers`) and body (`with_request_body`) as the request itself.
 * - nginx `auth_request` sends a GET subrequest to the auth location; the original URI and method
 *   arrive in the headers the operator set, conventionally `X-Original-URI` and `X-Original-Method`.
 * - Traefik `forwardAuth` sends `X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`,
 *   `X-Forwarded-Proto` (https://doc.traefik.io/traefik/middlewares/http/forwardauth/).
 * Those headers are anyone's to send, so they are read only from a trusted proxy
 * (`http_trusted_proxies`); from any other peer they are ignored and the request is taken as it
 * arrived (they stay in `headers`, like any other caller-controlled header).
 */
import { GatehouseError } from '../errors.js';
import type { DecodedCheckRequest } from '../grpc/protos.js';

/** What the HTTP listener knows of one request. */
export interface HttpAuthzRequest {
  /** Request method and target as received (`req.method`, `req.url`). */
  method: string;
  url: string;
  /** `req.rawHeaders`: alternating names and values, as received. */
  rawHeaders: readonly string[];
  /** `HTTP/1.1` and so on, from `req.httpVersion`. */
  httpVersion: string;
  /** The body as received (empty when none was sent). */
  body: Buffer;
  /** The peer's and the listener's socket addresses. */
  remote: { address: string; port: number };
  local: { address: string; port: number };
  /** Whether the peer is in http_trusted_proxies: only then are the forwarding headers read. */
  trustedProxy: boolean;
  /** Request time, ms since the Unix epoch. */
  nowMs: number;
}

/** The forwarding headers, lower case, in order of preference where two name the same thing. */
export const ORIGINAL_URI_HEADERS = ['x-original-uri', 'x-forwarded-uri'] as const;
export const ORIGINAL_METHOD_HEADERS = ['x-original-method', 'x-forwarded-method'] as const;
export const ORIGINAL_HOST_HEADER = 'x-forwarded-host';
export const ORIGINAL_SCHEME_HEADER = 'x-forwarded-proto';

/** How the original request was found: for the listener's debug log and the tests. */
export type Forwarding = 'direct' | 'trusted_proxy_headers' | 'untrusted_proxy_headers_ignored';

export interface MappedRequest {
  request: DecodedCheckRequest;
  forwarding: Forwarding;
}

/**
 * Builds the CheckRequest. Headers become Envoy's `headers` map: lower-case names, repeated
 * headers joined with "," (set-cookie too, as Envoy does), plus the pseudo-headers `:method`,
 * `:path`, `:authority` and `:scheme` of the original request, as Envoy's gRPC client sends them
 * (and, as there, no `host` header: Host becomes `:authority`).
 * The body is `body` when it is UTF-8, else `raw_body` (base64), as with `pack_as_bytes`.
 * @throws GatehouseError input_parse_error when a trusted proxy's forwarding headers give two
 *   different values for the original URI, method, host or scheme (see `single`), sends the
 *   original URI without the original method or the reverse, or when the original URI has a
 *   fragment (`#`).
 */
export function toCheckRequest(http: HttpAuthzRequest): MappedRequest {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < http.rawHeaders.length; i += 2) {
    const name = http.rawHeaders[i]!.toLowerCase();
    // A caller cannot send pseudo-headers over HTTP/1.1; node:http never yields one, but be sure.
    if (name.startsWith(':')) continue;
    const value = utf8(http.rawHeaders[i + 1]!);
    headers[name] = Object.prototype.hasOwnProperty.call(headers, name) ? `${headers[name]},${value}` : value;
  }

  const sent = FORWARDING_HEADERS.some((name) => headers[name] !== undefined);
  const trusted = sent && http.trustedProxy;
  const forwardedUri = trusted ? single(http.rawHeaders, ORIGINAL_URI_HEADERS) : undefined;
  const forwardedMethod = trusted ? single(http.rawHeaders, ORIGINAL_METHOD_HEADERS) : undefined;
  const forwardedHost = trusted ? single(http.rawHeaders, [ORIGINAL_HOST_HEADER]) : undefined;
  const forwardedScheme = trusted ? single(http.rawHeaders, [ORIGINAL_SCHEME_HEADER]) : undefined;
  const forwarding: Forwarding = !sent ? 'direct' : trusted ? 'trusted_proxy_headers' : 'untrusted_proxy_headers_ignored';

  // Half a description is refused: nginx's auth_request subrequest is a GET (and its path the auth
  // location's) whatever the client sent, so an original URI without the original method (or the
  // reverse) would be decided on the subrequest's own method (path) instead of the client's.
  if (trusted && (forwardedUri === undefined) !== (forwardedMethod === undefined)) {
    const [sent, missing] = forwardedUri === undefined ? [ORIGINAL_METHOD_HEADERS, ORIGINAL_URI_HEADERS] : [ORIGINAL_URI_HEADERS, ORIGINAL_METHOD_HEADERS];
    throw new GatehouseError('input_parse_error', `the trusted proxy sent ${sent.join(' or ')} without ${missing.join(' or ')}; set both (nginx: proxy_set_header X-Original-URI $request_uri; and X-Original-Method $request_method;)`);
  }
  const method = trusted && forwardedMethod !== undefined ? forwardedMethod : http.method;
  const path = trusted && forwardedUri !== undefined ? forwardedUri : utf8(http.url);
  const host = trusted && forwardedHost !== undefined ? forwardedHost : headers.host ?? '';
  // A request target never carries a fragment (RFC 9112 section 3.2), but nginx passes a client's
  // "#..." in $request_uri on to the backend unchanged, and a backend may read
  // /public#/../../admin as /admin while parsed_path stops at the "#" (["public"]). Envoy strips or
  // refuses fragments before its gRPC Check; here the request is refused.
  if (path.includes('#')) {
    throw new GatehouseError('input_parse_error', `the request target ${JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}...` : path)} has a fragment ("#"), which a client never sends in a request; the backend could read it differently than the policy`);
  }
  // The listener is plain HTTP; a trusted proxy says what the client used.
  const scheme = trusted && forwardedScheme !== undefined ? forwardedScheme : 'http';

  // Envoy turns an HTTP/1 Host into :authority and sends no `host` header; so does this mapping.
  delete headers.host;
  headers[':method'] = method;
  headers[':path'] = path;
  headers[':authority'] = host;
  headers[':scheme'] = scheme;

  const httpRequest: NonNullable<NonNullable<NonNullable<DecodedCheckRequest['attributes']>['request']>['http']> = {
    method,
    headers,
    path,
    host,
    scheme,
    protocol: `HTTP/${http.httpVersion}`,
    size: String(http.body.length),
  };
  const requestId = headers['x-request-id'];
  if (requestId !== undefined) httpRequest.id = requestId;
  if (http.body.length > 0) {
    const text = http.body.toString('utf8');
    // Valid UTF-8 round-trips; anything else would be mangled into U+FFFD, so it goes as bytes.
    if (Buffer.byteLength(text) === http.body.length && !text.includes('\uFFFD')) httpRequest.body = text;
    else httpRequest.rawBody = http.body.toString('base64');
  }

  const seconds = Math.floor(http.nowMs / 1000);
  return {
    forwarding,
    request: {
      attributes: {
        source: { address: socketAddress(http.remote) },
        destination: { address: socketAddress(http.local) },
        request: {
          time: { seconds: String(seconds), nanos: (http.nowMs - seconds * 1000) * 1_000_000 },
          http: httpRequest,
        },
      },
    },
  };
}

const NOT_ASCII = /[^\u0000-\u007f]/;

/**
 * node:http hands over the request target and header values as latin1 (one character per byte).
 * Envoy reads those bytes as UTF-8; so does this mapping. Bytes that are not UTF-8 become U+FFFD,
 * which request hygiene refuses (invalid_utf8) where it checks.
 */
function utf8(text: string): string {
  return NOT_ASCII.test(text) ? Buffer.from(text, 'latin1').toString('utf8') : text;
}

const FORWARDING_HEADERS: readonly string[] = [...ORIGINAL_URI_HEADERS, ...ORIGINAL_METHOD_HEADERS, ORIGINAL_HOST_HEADER, ORIGINAL_SCHEME_HEADER];

/**
 * The one value the forwarding headers `names` give (each a name for the same thing), undefined
 * when none is sent. Two different values (a header repeated, or X-Original-URI next to
 * X-Forwarded-Uri) are refused: a trusted proxy sets one family and passes the client's other
 * headers on (Traefik forwardAuth copies a client's X-Original-URI next to its own
 * X-Forwarded-Uri), so preferring either would let the client choose what the policy sees.
 * @throws GatehouseError input_parse_error (a 400 deny) on two different values.
 */
function single(rawHeaders: readonly string[], names: readonly string[]): string | undefined {
  let found: { name: string; value: string } | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!names.includes(name)) continue;
    const value = utf8(rawHeaders[i + 1]!);
    if (found === undefined) found = { name, value };
    else if (found.value !== value) {
      throw new GatehouseError(
        'input_parse_error',
        `the trusted proxy sent two different original requests: ${found.name} ${JSON.stringify(found.value)} and ${name} ${JSON.stringify(value)}; the proxy must set one of ${names.join(', ')} and remove the client's (docs/http-authz.md#forwarding-headers-are-trusted-only-from-http_trusted_proxies)`,
      );
    }
  }
  return found?.value;
}

/** Envoy's `config.core.v3.Address` in proto JSON form (portValue a number, as protobufjs gives it). */
function socketAddress(peer: { address: string; port: number }) {
  // node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; Envoy reports a.b.c.d.
  const address = peer.address.startsWith('::ffff:') && peer.address.includes('.') ? peer.address.slice(7) : peer.address;
  return { socketAddress: { address, portValue: peer.port } };
}
