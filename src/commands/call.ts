/**
 * `gatehouse call`: one envoy.service.auth.v3.Authorization/Check to a running ext_authz server
 * (gatehouse or any other, such as opa-envoy-plugin) over gRPC, the way Envoy sends it, and the
 * CheckResponse printed for people (or as JSON). Exit status 0 allowed, 1 denied, 2 usage or
 * connection error.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { credentials, makeGenericClientConstructor, status as grpcStatus, type CallOptions, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { fromProtoJson } from '../authz/proto-json.js';
import { parseAddress } from '../config/load.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { AUTHORIZATION_SERVICE } from '../grpc/check-service.js';
import { authzProtos } from '../grpc/protos.js';
import { responseJson } from './check-response-json.js';
import { shorthandRequest, type Io, type Values } from './common.js';

const AuthorizationClient = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');
/** Check with pass-through serialisers: request and response are protobuf bytes. */
type UnaryCall = (request: Buffer, options: CallOptions, callback: (error: ServiceError | null, response: Buffer) => void) => void;

/** Sends the Check described by `values` (see the command's help) and prints the answer. */
export async function call(values: Values, io: Io): Promise<number> {
  const addr = values.addr as string;
  const target = grpcTarget(addr);
  const requestJson = values.request !== undefined ? readRequest(values.request as string) : shorthand(values);
  const protos = authzProtos();
  let bytes: Buffer;
  try {
    bytes = protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, requestJson));
  } catch (error) {
    throw new GatehouseError('usage', `${values.request ?? 'the request'} is not a CheckRequest in proto JSON form: ${describeThrown(error)}`);
  }
  const timeoutMs = Number(values['timeout-ms'] ?? 5000);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new GatehouseError('usage', `--timeout-ms must be a positive whole number of milliseconds, got ${JSON.stringify(values['timeout-ms'])}`);

  const { channelCredentials, options } = channel(values);
  // grpc-js's close() leaves a connection attempt that is still in its TCP or TLS handshake open
  // (a server that accepts and never answers): the process would outlive the deadline. Every
  // client socket opened while the Check is under way is this call's, and is destroyed after it.
  const sockets: Socket[] = [];
  const opened = ({ socket }: { socket: Socket }) => sockets.push(socket);
  diagnosticsChannel.subscribe('net.client.socket', opened as (message: unknown) => void);
  const client = new AuthorizationClient(target, channelCredentials, options) as unknown as Client & { Check: UnaryCall };
  let reply: Buffer;
  try {
    reply = await new Promise<Buffer>((resolve, reject) => {
      client.Check(bytes, { deadline: Date.now() + timeoutMs }, (error: ServiceError | null, response: Buffer) => (error ? reject(error) : resolve(response)));
    });
  } catch (error) {
    io.stderr(`gatehouse call: no CheckResponse from ${addr}${noAnswer(error as ServiceError, timeoutMs)}\n`);
    return 2;
  } finally {
    client.close();
    diagnosticsChannel.unsubscribe('net.client.socket', opened as (message: unknown) => void);
    for (const socket of sockets) socket.destroy();
  }
  const message = protos.CheckResponse.decode(reply);
  const response = responseJson(message);
  // Envoy lets the request through only when status.code is OK (0); a missing status is OK.
  const allowed = (response.status?.code ?? 0) === 0;
  if (values.json) {
    io.stdout(`${JSON.stringify({ allowed, decision_id: response.dynamicMetadata?.decision_id ?? null, response }, null, 2)}\n`);
  } else {
    io.stdout(readable(allowed, response));
  }
  return allowed ? 0 : 1;
}

/** Why there was no answer: ": UNAVAILABLE: ..." as grpc-js says it, or " within N ms (--timeout-ms): DEADLINE_EXCEEDED (...)". */
function noAnswer(error: ServiceError, timeoutMs: number): string {
  const details = (error.details ?? describeThrown(error)).replace(/\.? Resolution note: *$/, '');
  if (error.code === grpcStatus.DEADLINE_EXCEEDED) {
    // grpc-js ends the details with where the call was: "Waiting for LB pick" = never connected.
    const where = /LB pick/.test(details)
      ? 'no connection was ready: the server did not complete the TCP, TLS or HTTP/2 handshake'
      : 'the server did not answer the Check';
    return ` within ${timeoutMs} ms (--timeout-ms): DEADLINE_EXCEEDED (${where})`;
  }
  return `: ${typeof error.code === 'number' ? `${grpcStatus[error.code] ?? error.code}: ` : ''}${details}`;
}

/** "host:port", ":port" (this host), "[::1]:port" or "unix:///path" as a grpc-js target. */
function grpcTarget(addr: string): string {
  const parsed = parseAddress(addr, false, (problem) => {
    throw new GatehouseError('usage', `--addr ${problem}`);
  })!;
  if (parsed.kind === 'unix') return `unix://${parsed.path}`;
  const host = addr.startsWith(':') ? 'localhost' : parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  return `${host}:${parsed.port}`;
}

function readRequest(path: string): unknown {
  try {
    return JSON.parse(path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GatehouseError('usage', `cannot read the request from ${path}: ${describeThrown(error)}`);
  }
}

/**
 * The shorthand flags as a CheckRequest, built as decision tables build theirs: --principal is
 * attributes.source.principal (what Envoy sets from the caller's certificate), --destination
 * attributes.destination.principal; headers lower-cased, repeated ones comma-joined as Envoy does.
 */
function shorthand(values: Values): unknown {
  if (typeof values.path !== 'string') throw new GatehouseError('usage', 'give --request FILE, or --path (with --method, --header, --principal, --destination, --body as needed)');
  const headers: Record<string, string> = {};
  for (const text of (values.header as string[] | undefined) ?? []) {
    // ":authority: example" is a pseudo-header: its name includes the leading colon.
    const colon = text.indexOf(':', text.startsWith(':') ? 1 : 0);
    const name = colon > 0 ? text.slice(0, colon).trim().toLowerCase() : '';
    if (name === '' || name === ':') throw new GatehouseError('usage', `--header must be NAME:VALUE, got ${JSON.stringify(text)}`);
    const value = text.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return shorthandRequest({
    source: values.principal as string | undefined,
    destination: values.destination as string | undefined,
    method: ((values.method as string | undefined) ?? 'GET').toUpperCase(),
    path: values.path,
    headers,
    body: values.body as string | undefined,
  });
}

/** Plaintext unless a TLS flag is given: --ca (server CA), --cert/--key (client certificate, mTLS), --tls (system CAs). */
function channel(values: Values): { channelCredentials: ChannelCredentials; options: Record<string, string> } {
  const read = (flag: string): Buffer | null => {
    const file = values[flag];
    if (typeof file !== 'string') return null;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new GatehouseError('usage', `--${flag} ${file} cannot be read: ${describeThrown(error)}`);
    }
  };
  if ((values.cert === undefined) !== (values.key === undefined)) throw new GatehouseError('usage', '--cert and --key go together (the client certificate and its key, for mTLS)');
  const tls = values.tls === true || values.ca !== undefined || values.cert !== undefined;
  if (!tls) {
    if (values['server-name'] !== undefined) throw new GatehouseError('usage', '--server-name needs TLS: add --ca, --cert/--key or --tls');
    return { channelCredentials: credentials.createInsecure(), options: {} };
  }
  const serverName = values['server-name'] as string | undefined;
  if (serverName === undefined) quietIpServerNameWarning();
  const ca = read('ca');
  const key = read('key');
  const cert = read('cert');
  checkTlsFiles(values, ca, key, cert);
  return {
    channelCredentials: credentials.createSsl(ca, key, cert),
    options: serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {},
  };
}

/**
 * The TLS files checked with node:crypto before any connection, so a wrong file is named as such:
 * otherwise Node's TLS ignores a --ca without a PEM certificate (the handshake then fails against
 * the system CAs) and reports a wrong --cert or --key as a bare OpenSSL error.
 */
function checkTlsFiles(values: Values, ca: Buffer | null, key: Buffer | null, cert: Buffer | null): void {
  if (ca) {
    const blocks = ca.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new GatehouseError('usage', `--ca ${values.ca} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    blocks.forEach((block, i) => {
      try {
        new X509Certificate(block);
      } catch (error) {
        throw new GatehouseError('usage', `--ca ${values.ca}: certificate ${i + 1} does not parse: ${describeThrown(error)}`);
      }
    });
  }
  if (!key || !cert) return;
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new GatehouseError('usage', `--cert ${values.cert} is not a PEM certificate: ${describeThrown(error)}`);
  }
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new GatehouseError('usage', `--key ${values.key} is not a PEM private key: ${describeThrown(error)}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new GatehouseError('usage', `--key ${values.key} is not the private key of --cert ${values.cert}`);
}

/**
 * grpc-js always sends the target host as the TLS server name (SNI), an IP literal with
 * --addr 127.0.0.1:9191, and Node warns about that once per process (DEP0123): a warning about
 * grpc-js, not something the user can act on. The certificate is still checked against the IP.
 */
function quietIpServerNameWarning(): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (rest[1] === 'DEP0123' || (rest[0] as { code?: string } | undefined)?.code === 'DEP0123') return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
}

type HeaderOption = { header?: { key?: string; value?: string; rawValue?: string }; appendAction?: string; append?: boolean };

/** The response for a terminal: the outcome first, then what Envoy would do with it. */
function readable(allowed: boolean, response: Record<string, any>): string {
  const out: string[] = [];
  const code = response.status?.code ?? 0;
  const statusText = `status ${grpcStatus[code] ?? code}${response.status?.message ? `: ${response.status.message}` : ''}`;
  const denied = response.deniedResponse;
  const ok = response.okResponse;
  const http = denied?.status?.code !== undefined ? `, HTTP ${httpCode(denied.status.code)}` : '';
  out.push(`${allowed ? 'ALLOWED' : 'DENIED'} (${statusText}${http})`);
  const decisionId = response.dynamicMetadata?.decision_id;
  if (decisionId !== undefined) out.push(`decision id: ${typeof decisionId === 'string' ? decisionId : JSON.stringify(decisionId)}`);
  const headers = (title: string, list: HeaderOption[] | undefined) => {
    if (!list?.length) return;
    out.push(`${title}:`);
    for (const h of list) {
      const value = h.header?.value ?? (h.header?.rawValue !== undefined ? Buffer.from(h.header.rawValue, 'base64').toString('utf8') : '');
      const action = h.appendAction ?? (h.append !== undefined ? (h.append ? 'APPEND' : 'OVERWRITE') : undefined);
      out.push(`  ${h.header?.key ?? ''}: ${value}${action ? `  (${action})` : ''}`);
    }
  };
  if (ok) {
    headers('request headers set for the upstream', ok.headers);
    if (ok.headersToRemove?.length) out.push(`request headers removed: ${ok.headersToRemove.join(', ')}`);
    headers('response headers added for the client', ok.responseHeadersToAdd);
    if (ok.queryParametersToSet?.length) out.push(`query parameters set: ${ok.queryParametersToSet.map((q: { key: string; value: string }) => `${q.key}=${q.value}`).join(', ')}`);
    if (ok.queryParametersToRemove?.length) out.push(`query parameters removed: ${ok.queryParametersToRemove.join(', ')}`);
  }
  if (denied) {
    headers('response headers', denied.headers);
    if (denied.body !== undefined && denied.body !== '') out.push(`body: ${denied.body}`);
  }
  if (response.dynamicMetadata && Object.keys(response.dynamicMetadata).length > 0) {
    out.push(`dynamic metadata: ${JSON.stringify(response.dynamicMetadata, null, 2).replaceAll('\n', '\n  ')}`);
  }
  return `${out.join('\n')}\n`;
}

/** envoy.type.v3.StatusCode arrives by name ("Forbidden"); print the number and the name. */
function httpCode(code: string | number): string {
  const values = authzProtos().root.lookupEnum('envoy.type.v3.StatusCode').values;
  const number = typeof code === 'number' ? code : values[code];
  return number === undefined ? String(code) : typeof code === 'string' ? `${number} ${code}` : String(number);
}
