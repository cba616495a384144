/**
 * The HTTP authorization listener (`http_addr`, docs/http-authz.md): answers nginx `auth_request`,
 * Traefik `forwardAuth` and Envoy ext_authz `http_service` subrequests through the same pipeline as
 * the gRPC Check (authz/authorize: hygiene, cache, policy) and the same `record` (metrics, decision
 * log). Like grpc/check-service.ts it never lets a failure through: a request it cannot read, a
 * bug, anything unexpected is a deny with a logged reason, never a 200.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { authorize, type AuthorizeDeps } from '../authz/authorize.js';
import type { Outcome } from '../authz/outcome.js';
import { GatehouseError } from '../errors.js';
import type { DecodedCheckRequest } from '../grpc/protos.js';
import { toCheckRequest, type Forwarding } from './check-request.js';
import { DECISION_ID_HEADER, REASON_CODE_HEADER, toHttpAnswer, untransportable, type HttpAnswer } from './response.js';

export interface HttpAuthzDeps extends Omit<AuthorizeDeps, 'decode'> {
  /** Metrics and the decision log, as for gRPC Checks; called after the answer is sent. */
  record(outcome: Outcome): void;
  /** Answer allow whatever the policy decided (still logged and counted), as over gRPC. */
  dryRun: boolean;
  /** http_trusted_proxies: IPs and CIDR blocks whose forwarding headers are believed. */
  trustedProxies: readonly string[];
  /** The largest body read (max_body_bytes); a longer one is denied body_too_large (413). */
  maxBodyBytes: number;
  /** max_connections: open connections past it are closed at once (when this server listens itself). */
  maxConnections: number;
  /** The app's registry: gatehouse_http_authz_requests_total is registered on it. */
  registry: Registry;
  /** Called when answering or recording failed (a bug), with what was done instead. */
  onError(error: unknown, what: string): void;
  /**
   * For tests: the slow-client timeouts, ms. Defaults: 10 s for the headers, 30 s for the whole
   * request, checked every 30 s (node's connectionsCheckingInterval).
   */
  timeouts?: { headersMs: number; requestMs: number; checkIntervalMs: number };
  /** Debug line per request: how the original request was found. */
  onForwarding?(forwarding: Forwarding, remote: string): void;
}

const EMPTY = new Uint8Array(0);

export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Pipelined requests waiting on one connection before it is no longer read. */
const MAX_WAITING = 32;

const NOT_ASCII = /[^\u0000-\u007f]/;

/** The listener's server; the caller binds it (app.ts) or feeds it connections (cluster worker). */
export function createHttpAuthzServer(deps: HttpAuthzDeps): Server {
  const trusted = trustedProxyList(deps.trustedProxies);
  const requests = new Counter({
    name: 'gatehouse_http_authz_requests_total',
    help: 'Authorization requests answered by the HTTP listener (http_addr), by answer status class; every one is also in gatehouse_decisions_total',
    labelNames: ['status_class'],
    registers: [deps.registry],
  });
  // authorize reads the request through deps.decode, synchronously at its start: the mapped request
  // is handed over in `pending` rather than re-encoded as CheckRequest bytes.
  let pending: DecodedCheckRequest | undefined;
  const authorizeDeps: AuthorizeDeps = {
    ...deps,
    decode: () => {
      const request = pending;
      pending = undefined;
      if (!request) throw new GatehouseError('input_parse_error', 'no HTTP request to decode');
      return request;
    },
  };

  const send = (req: IncomingMessage, res: ServerResponse, answer: HttpAnswer): void => {
    const headers: Record<string, string | string[]> = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
    for (const [name, text] of answer.headers) {
      // node writes header strings as latin1; a non-ASCII value goes as its UTF-8 bytes, as Envoy sends it.
      const value = NOT_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
      const had = headers[name];
      headers[name] = had === undefined || name === 'content-type' ? value : [...(Array.isArray(had) ? had : [had]), value];
    }
    headers['content-length'] = String(Buffer.byteLength(answer.body));
    res.writeHead(answer.status, headers);
    // Counted once node took the status line: a writeHead that throws is answered by denyBug.
    requests.labels(`${Math.floor(answer.status / 100)}xx`).inc();
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  };
  const deny = (req: IncomingMessage, res: ServerResponse): void => {
    if (denyBug(req, res)) requests.labels('4xx').inc();
  };

  const conclude = (req: IncomingMessage, res: ServerResponse, outcome: Outcome): void => {
    const problem = untransportable(outcome);
    if (problem) {
      outcome = { ...outcome, allowed: false, httpStatus: 403, reasonLabel: 'decision_invalid', reason: problem, error: new GatehouseError('decision_invalid', problem) as Outcome['error'] };
    }
    try {
      send(req, res, toHttpAnswer(outcome, deps.dryRun));
    } catch (error) {
      // node refused a header of the answer (or the socket was gone): a deny, and logged as one.
      deps.onError(error, 'answering an HTTP authorization request failed; it was answered 403');
      const reason = `the HTTP answer could not be written: ${error instanceof Error ? error.message : String(error)}`;
      outcome = { ...outcome, allowed: false, httpStatus: 403, reasonLabel: 'internal_error', reason, error: new GatehouseError('internal_error', reason) as Outcome['error'] };
      deny(req, res);
    }
    setImmediate(() => {
      try {
        deps.record(outcome);
      } catch (error) {
        deps.onError(error, 'recording an HTTP authorization request\'s metrics or decision-log line failed');
      }
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer, rejection: GatehouseError | undefined): void => {
    try {
      const socket = req.socket;
      const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
      let request: DecodedCheckRequest | undefined;
      if (!rejection) {
        const mapped = mapRequest({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          rawHeaders: req.rawHeaders,
          httpVersion: req.httpVersion,
          body,
          remote,
          local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
          trustedProxy: isTrusted(trusted, remote.address),
          nowMs: Date.now(),
        });
        if (mapped instanceof GatehouseError) rejection = mapped;
        else {
          deps.onForwarding?.(mapped.forwarding, remote.address);
          request = mapped.request;
        }
      }
      pending = request;
      // The caller hanging up is this transport's deadline: an evaluation not yet started is skipped.
      const outcome = authorize(EMPTY, authorizeDeps, { expired: () => socket.destroyed, rejection });
      pending = undefined;
      if (outcome instanceof Promise) {
        outcome.then(
          (settled) => conclude(req, res, settled),
          (error: unknown) => {
            deps.onError(error, 'an HTTP authorization request failed unexpectedly; it was answered 403');
            deny(req, res);
          },
        );
      } else conclude(req, res, outcome);
    } catch (error) {
      pending = undefined;
      deps.onError(error, 'an HTTP authorization request failed unexpectedly; it was answered 403');
      deny(req, res);
    }
  };

  // Pipelined requests on one connection are decided one after another, as they are answered:
  // node:http calls the handler for every request it parses from one read at once, so a client
  // could put thousands of evaluations in the shared queue with one write (eval_queue_full for
  // every other caller). gRPC bounds a connection with max_concurrent_streams; here it is 1.
  // Past MAX_WAITING requests waiting their turn, the connection is not read (node:http reads on
  // while the client reads its answers, so a client sending faster than it is answered grew the
  // backlog, and memory, without bound) until half of them are answered.
  const lanes = new WeakMap<object, { busy: boolean; waiting: (() => void)[]; paused: boolean }>();
  const inTurn = (req: IncomingMessage, res: ServerResponse, run: () => void): void => {
    const socket = req.socket;
    let lane = lanes.get(socket);
    if (!lane) lanes.set(socket, (lane = { busy: false, waiting: [], paused: false }));
    const own = lane;
    const start = () => {
      own.busy = true;
      // 'close': answered, or the connection is gone (the next then finds it destroyed: expired).
      res.once('close', () => {
        own.busy = false;
        if (own.paused && own.waiting.length <= MAX_WAITING / 2) {
          own.paused = false;
          socket.resume();
        }
        own.waiting.shift()?.();
      });
      run();
    };
    if (!own.busy) return start();
    own.waiting.push(start);
    if (own.waiting.length >= MAX_WAITING && !own.paused) {
      own.paused = true;
      socket.pause();
    }
  };

  // Idle keep-alive connections are closed after 65 s: a proxy that reuses them (Envoy) must close
  // its idle ones sooner (docs/http-authz.md#envoy-http_service), or a request can race the close.
  const timeouts = deps.timeouts ?? { headersMs: 10_000, requestMs: 30_000, checkIntervalMs: 30_000 };
  const options = { requestTimeout: timeouts.requestMs, headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkIntervalMs, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS };
  const server = createServer(options, (req, res) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > deps.maxBodyBytes) {
      // Answered without reading it; the connection closes since the body was not drained.
      res.shouldKeepAlive = false;
      inTurn(req, res, () => handle(req, res, Buffer.alloc(0), tooLarge(declared, deps.maxBodyBytes)));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > deps.maxBodyBytes) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => inTurn(req, res, () => handle(req, res, Buffer.concat(chunks), over ? tooLarge(received, deps.maxBodyBytes) : undefined)));
    req.on('error', () => req.socket.destroy());
  });
  server.maxConnections = deps.maxConnections;
  // node:http enforces headersTimeout/requestTimeout only on connections it tracks, and starts
  // tracking when the server emits 'listening'. A cluster worker's server never listens (it is
  // handed each accepted socket with emit('connection')), so slow clients were never timed out
  // there. Before the first handed connection is parsed (prepended: ahead of node's own
  // 'connection' listener), start the tracking as 'listening' would.
  let tracking = false;
  server.on('listening', () => (tracking = true));
  server.prependListener('connection', () => {
    if (tracking || server.listening) return;
    tracking = true;
    server.emit('listening');
  });
  // A malformed request, or one whose headers (body) did not arrive in time, never reaches the
  // handler: answered and the connection closed. Closed, not only ended: node:http keeps a socket
  // readable after end() (allowHalfOpen), so a slowloris client that keeps sending would hold it
  // open past every timeout.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !started) {
      const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      (socket as Socket).destroySoon();
      // Nothing more is read; a client that does not read its answer is closed soon anyway.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  });
  return server;
}

/** toCheckRequest, with a request it refuses (conflicting forwarding headers) as the rejection to deny with. */
function mapRequest(request: Parameters<typeof toCheckRequest>[0]): ReturnType<typeof toCheckRequest> | GatehouseError {
  try {
    return toCheckRequest(request);
  } catch (error) {
    if (error instanceof GatehouseError) return error;
    throw error;
  }
}

function tooLarge(bytes: number, limit: number): GatehouseError {
  return new GatehouseError('body_too_large', `the request body is ${bytes} bytes or more, over max_body_bytes (${limit}); set Envoy's with_request_body.max_request_bytes <= max_body_bytes`);
}

/** A failure outside authorize: still a deny, never a 200. True when a 403 was written (false: the connection was closed). */
function denyBug(req: IncomingMessage, res: ServerResponse): boolean {
  if (res.headersSent) {
    res.destroy();
    return false;
  }
  try {
    res.writeHead(403, 'Forbidden', { 'content-type': 'text/plain; charset=utf-8', 'content-length': '0', [REASON_CODE_HEADER]: 'internal_error', [DECISION_ID_HEADER]: 'none' });
    res.end();
    return true;
  } catch {
    req.socket.destroy();
    return false;
  }
}

/** http_trusted_proxies as a node:net BlockList (IPv4-mapped IPv6 peers match their IPv4 entries). */
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

export function isTrusted(list: BlockList, address: string): boolean {
  if (address === '') return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return list.check(mapped[1]!, 'ipv4');
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}
