/**
 * CheckRequest → the policy's input document, compatible with opa-envoy-plugin
 * (docs/input.md has the full reference and an example):
 * `attributes` in proto3 JSON form, `parsed_path`, `parsed_query`, `parsed_body`,
 * `truncated_body`, `version`, and `source_principal`; plus gatehouse's own `identity` key.
 */
import { GatehouseError } from '../errors.js';
import type { DecodedCheckRequest } from '../grpc/protos.js';
import { parsePeerCertificate, type CertificateMemo, type PeerCertificate } from '../identity/peer-certificate.js';
import { parseSpiffeId, type SpiffeIdentity } from '../identity/spiffe.js';
import { parseXfcc, type Xfcc } from '../identity/xfcc.js';
import { parseBody, type BodyLimits } from './body.js';
import { screenPath, screenQuery, screenRequestLine, STRICT } from './hygiene/index.js';
import { parseRequestTarget, splitTarget } from './path.js';
import { structToJson, timestampToJson, type Json, type JsonObject } from './proto-json.js';

export interface InputOptions extends BodyLimits {
  /** SPIFFE IDs of hops whose x-forwarded-client-cert is believed (e.g. the ingress gateway). */
  xfccTrustedSources: ReadonlySet<string>;
  /** Memo of parsed peer certificates; without one, each Check parses its certificate. */
  certificates?: CertificateMemo;
}

export const INPUT_VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });

export type PeerIdentity = ({ principal: string } & SpiffeIdentity) | { principal: null; valid: false; error: string };

export interface InputDocument {
  attributes: JsonObject;
  parsed_path: string[];
  parsed_query: Record<string, string[]>;
  parsed_body: Json;
  truncated_body: boolean;
  version: typeof INPUT_VERSION;
  source_principal?: string;
  identity: {
    source: PeerIdentity;
    destination: PeerIdentity;
    /** The caller's leaf certificate, when Envoy sends it (`include_peer_certificate`). */
    source_certificate?: PeerCertificate;
    /** x-forwarded-client-cert, parsed only from a trusted hop. */
    xfcc?: Xfcc;
  };
  /** gatehouse's addition (strict hygiene): the host in lower case, without trailing dot or port. */
  canonical_host?: string;
  /** gatehouse's addition (strict hygiene): the explicit port, else the scheme's default. */
  canonical_port?: number;
}

type Attributes = NonNullable<DecodedCheckRequest['attributes']>;
type HttpRequest = NonNullable<NonNullable<Attributes['request']>['http']>;

export function buildInput(request: DecodedCheckRequest, options: InputOptions): InputDocument {
  const attributes = request.attributes;
  if (!attributes) throw new GatehouseError('input_parse_error', 'CheckRequest has no attributes');
  const http = attributes.request?.http;
  if (!http) throw new GatehouseError('input_parse_error', 'CheckRequest has no attributes.request.http');

  const headers = effectiveHeaders(http);
  // Request hygiene (docs/input.md#request-hygiene): limits and the request line before parsing,
  // then the decoded path and query; parseBody screens a body before parsing it.
  const hygiene = options.hygiene ?? STRICT;
  const host = screenRequestLine(http, headers, hygiene);
  const { parsedPath, parsedQuery } = parseRequestTarget(http.path);
  if (hygiene.on.size > 0) {
    screenPath(parsedPath, hygiene);
    screenQuery(splitTarget(http.path!).queryPart, parsedQuery, hygiene, 'query');
  }
  const { parsedBody, truncatedBody } = parseBody(headers, http.body, http.rawBody, options);

  const source = peerIdentity(attributes.source?.principal);
  const input: InputDocument = {
    attributes: toProtoJson(attributes),
    parsed_path: parsedPath,
    parsed_query: parsedQuery,
    parsed_body: parsedBody,
    truncated_body: truncatedBody,
    version: INPUT_VERSION,
    identity: {
      source,
      destination: peerIdentity(attributes.destination?.principal),
    },
  };
  const certificate = attributes.source?.certificate;
  if (certificate) {
    const principal = attributes.source?.principal;
    input.identity.source_certificate = options.certificates ? options.certificates.parse(certificate, principal) : parsePeerCertificate(certificate, principal);
  }
  const xfcc = headers['x-forwarded-client-cert'];
  if (xfcc !== undefined) input.identity.xfcc = forwardedClient(xfcc, source, options.xfccTrustedSources);
  const sourcePrincipal = attributes.source?.principal;
  if (sourcePrincipal) input.source_principal = sourcePrincipal;
  if (host && hygiene.strictParsing) {
    input.canonical_host = host.name;
    if (host.port !== undefined) input.canonical_port = host.port;
  }
  return input;
}

/**
 * With `encode_raw_headers`, Envoy sends `header_map` (a list, values possibly as bytes) instead
 * of `headers`. Policies written for `headers` keep working: gatehouse fills `headers` from it,
 * joining repeated headers with "," as Envoy does.
 */
function effectiveHeaders(http: HttpRequest): Record<string, string> {
  if (http.headers && Object.keys(http.headers).length > 0) return http.headers;
  const list = http.headerMap?.headers;
  if (!list || list.length === 0) return {};
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const entry of list) {
    const key = (entry.key ?? '').toLowerCase();
    const value = entry.value ? entry.value : entry.rawValue ? Buffer.from(entry.rawValue, 'base64').toString('utf8') : '';
    headers[key] = Object.prototype.hasOwnProperty.call(headers, key) ? `${headers[key]},${value}` : value;
  }
  http.headers = headers;
  return headers;
}

function forwardedClient(header: string, source: PeerIdentity, trusted: ReadonlySet<string>): Xfcc {
  if (!source.valid || !trusted.has(source.spiffe_id)) {
    return { trusted: false, reason: 'the Check\'s source is not in xfcc_trusted_sources; the header is caller-controlled' };
  }
  try {
    const elements = parseXfcc(header);
    return { trusted: true, client: elements[elements.length - 1]!, elements };
  } catch (error) {
    return { trusted: false, reason: `malformed: ${(error as Error).message}` };
  }
}

const NO_PRINCIPAL: PeerIdentity = deepFreeze({ principal: null, valid: false, error: 'no principal (the peer did not present a certificate)' });

/**
 * Parsed peer identities by principal. A mesh has a bounded set of workloads, and every Check
 * names two of them, so each is parsed once. The entries are frozen: inputs share them.
 */
const identities = new Map<string, PeerIdentity>();
const MAX_REMEMBERED_IDENTITIES = 4096;

function peerIdentity(principal: string | undefined): PeerIdentity {
  if (!principal) return NO_PRINCIPAL;
  let identity = identities.get(principal);
  if (identity === undefined) {
    if (identities.size >= MAX_REMEMBERED_IDENTITIES) identities.clear();
    identity = deepFreeze({ principal, ...parseSpiffeId(principal) });
    identities.set(principal, identity);
  }
  return identity;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * The decoded request already has proto3 JSON field names and scalar forms; what remains are the
 * well-known types JSON renders specially. They occur at fixed places in AttributeContext, so they
 * are converted there rather than by walking the whole message. The decoded object is fresh per
 * request, so it is converted in place.
 */
function toProtoJson(attributes: Attributes): JsonObject {
  const time = attributes.request?.time;
  if (time) (attributes.request as { time: unknown }).time = timestampToJson(time);
  convertMetadata(attributes.metadataContext);
  convertMetadata(attributes.routeMetadataContext);
  return attributes as unknown as JsonObject;
}

function convertMetadata(metadata: Attributes['metadataContext']): void {
  if (!metadata) return;
  const filter = metadata.filterMetadata as Record<string, unknown> | undefined;
  if (filter) for (const key of Object.keys(filter)) filter[key] = structToJson(filter[key] as never);
  const typed = metadata.typedFilterMetadata as Record<string, unknown> | undefined;
  if (typed) {
    for (const key of Object.keys(typed)) {
      // google.protobuf.Any: the type URL and the packed message as base64 (not unpacked).
      const any = typed[key] as { typeUrl?: string; type_url?: string; value?: string };
      typed[key] = { '@type': any.typeUrl ?? any.type_url ?? '', value: any.value ?? '' };
    }
  }
}
