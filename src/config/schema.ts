/**
 * Every configuration key of `gatehouse serve`: its type, default, and help. Each key can be set in
 * the YAML file (snake_case), as an environment variable (GATEHOUSE_<KEY>) or as a flag
 * (--kebab-case), in increasing order of precedence. Values are validated once, at start-up.
 */

import { isIP } from 'node:net';
import { DEFAULT_LIMITS, SWITCHABLE_RULE_IDS, type HygieneMode } from '../authz/hygiene/index.js';

export type ListenAddress = { kind: 'tcp'; host: string; port: number; text: string } | { kind: 'unix'; path: string; text: string };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  addr: ListenAddress;
  admin_addr: ListenAddress | null;
  admin_ui: boolean;
  http_addr: ListenAddress | null;
  http_trusted_proxies: readonly string[];
  bundle: string;
  entrypoint: string;
  log_level: LogLevel;
  decision_log: string;
  instance: string | undefined;
  max_body_bytes: number;
  max_bundle_bytes: number;
  max_wasm_memory_mb: number;
  workers: string;
  eval_timeout_ms: number;
  max_concurrent_streams: number;
  max_connections: number;
  watch: boolean;
  reload_debounce_ms: number;
  shutdown_drain_ms: number;
  max_connection_age_ms: number;
  max_connection_age_grace_ms: number;
  shutdown_timeout_ms: number;
  trust_domains: readonly string[];
  xfcc_trusted_sources: readonly string[];
  tls_cert_file: string | undefined;
  tls_key_file: string | undefined;
  tls_client_ca_file: string | undefined;
  tls_client_trust_bundles: readonly string[];
  invalid_source_certificate: 'deny' | 'policy';
  tls_allowed_clients: readonly string[];
  tls_reload_interval_ms: number;
  bundle_poll_min_ms: number;
  bundle_poll_max_ms: number;
  bundle_fetch_timeout_ms: number;
  bundle_bearer_token: string | undefined;
  bundle_require_newer_revision: boolean;
  bundle_state_file: string | undefined;
  bundle_verification_key_file: string | undefined;
  bundle_verification_key_id: string;
  bundle_verification_algorithm: string;
  bundle_verification_scope: string | undefined;
  bundle_accept_unverified_signatures: boolean;
  activation_gate_inputs: number;
  dry_run: boolean;
  candidate_bundle: string | undefined;
  candidate_sample_percent: number;
  decision_log_buffer_bytes: number;
  decision_log_allow_sample_percent: number;
  decision_log_mask: readonly string[];
  decision_log_max_value_bytes: number;
  decision_log_service_url: string | undefined;
  decision_log_service_bearer_token: string | undefined;
  decision_log_service_tls_cert_file: string | undefined;
  decision_log_service_tls_key_file: string | undefined;
  decision_log_service_tls_ca_file: string | undefined;
  tracing: 'off' | 'otlp';
  decision_cache: 'auto' | 'off';
  decision_cache_ttl_ms: number;
  decision_cache_max_entries: number;
  decision_cache_max_bytes: number;
  decision_cache_key_fields: readonly string[];
  decision_cache_nondeterministic_ttl_ms: number;
  request_hygiene: HygieneMode;
  request_hygiene_allow: readonly string[];
  max_path_bytes: number;
  max_path_segments: number;
  max_query_params: number;
  max_headers: number;
  max_header_bytes: number;
  max_header_value_bytes: number;
  max_form_fields: number;
  max_multipart_parts: number;
  max_json_depth: number;
}

interface KeySpecBase {
  help: string;
  /** Shown in --help and used in error messages as an example of a good value. */
  example: string;
}
/**
 * One key's declaration. config/json-schema.ts turns these into the JSON Schema that validates
 * the merged configuration (and is published as config.schema.json); `check`/`checkItem` say what
 * JSON Schema cannot, after the schema passed.
 */
export type KeySpec =
  | (KeySpecBase & {
      type: 'string'; default: string | undefined; check?: (v: string) => string | undefined;
      /** A YAML number is taken as its decimal text (`workers: 2` is "2"); the schema allows integers. */
      numberAsText?: boolean;
    })
  | (KeySpecBase & { type: 'address'; default: string; allowOff: boolean })
  | (KeySpecBase & { type: 'integer'; default: number; min: number; max: number; check?: (v: number) => string | undefined })
  | (KeySpecBase & { type: 'boolean'; default: boolean })
  | (KeySpecBase & { type: 'enum'; default: string; values: readonly string[] })
  | (KeySpecBase & { type: 'list'; default: readonly string[]; checkItem: (v: string) => string | undefined })
  | (KeySpecBase & { type: 'path'; default: undefined });

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const checkSpiffeId = (v: string) =>
  SPIFFE_ID.test(v) && !/\/\.\.?(\/|$)/.test(v) ? undefined : `has ${JSON.stringify(v)}, which is not a SPIFFE ID (spiffe://trust.domain/path)`;

/** An IP address or CIDR block (IPv4 or IPv6), as node:net's BlockList takes them. */
const checkCidr = (v: string) => {
  const [ip, bits, extra] = v.split('/');
  const family = isIP(ip ?? '');
  const max = family === 4 ? 32 : 128;
  if (family === 0 || extra !== undefined || (bits !== undefined && !(/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max))) {
    return `has ${JSON.stringify(v)}, which is not an IP address or CIDR block (10.0.0.0/8, 127.0.0.1, ::1/128)`;
  }
  return undefined;
};

/** A request-hygiene limit (docs/input.md#limits): its default comes from the hygiene table. */
const limit = (key: keyof typeof DEFAULT_LIMITS, min: number, max: number, help: string): KeySpec => ({
  type: 'integer', default: DEFAULT_LIMITS[key], min, max, example: String(DEFAULT_LIMITS[key]), help,
});

const MIN_CONNECTION_AGE_MS = 10_000;

const ENTRYPOINT = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;

export const CONFIG_KEYS: Record<keyof Config, KeySpec> = {
  addr: {
    type: 'address', default: ':9191', allowOff: false, example: '127.0.0.1:9191',
    help: 'gRPC listen address for Envoy: host:port, :port (all interfaces) or unix:///path/to.sock',
  },
  admin_addr: {
    type: 'address', default: ':9192', allowOff: true, example: '127.0.0.1:9192',
    help: 'HTTP address for /healthz, /readyz and /metrics; "off" to disable',
  },
  admin_ui: {
    type: 'boolean', default: false, example: 'true',
    help: 'serve the live authorization map on admin_addr at /live (docs/learn.md#the-live-authorization-map): callers and destinations with allow/deny rates, top denials, decision latency, cache hit rate, policy revision; shows only what the decision log shows after decision_log_mask. Keep admin_addr on loopback or pod-internal',
  },
  http_addr: {
    type: 'address', default: 'off', allowOff: true, example: '127.0.0.1:9193',
    help: 'HTTP authorization listener (docs/http-authz.md) for nginx auth_request, Traefik forwardAuth and Envoy\'s ext_authz http_service: 200 with the decision\'s headers on allow, the decision\'s status, headers and body on deny; same policy, cache, hygiene, decision log and metrics as gRPC; "off" (the default) to disable',
  },
  http_trusted_proxies: {
    type: 'list', default: [], example: '127.0.0.1/32,10.0.0.0/8',
    help: 'with http_addr: addresses (IP or CIDR) of proxies whose X-Original-URI/X-Original-Method (nginx) and X-Forwarded-Uri/-Method/-Host/-Proto (Traefik) headers describe the original request; from any other peer they are ignored (the input is built from the request as received). Default: none trusted',
    checkItem: checkCidr,
  },
  bundle: {
    type: 'string', default: undefined, example: 'build/bundle.tar.gz',
    help: 'policy bundle built with "gatehouse build": a .tar.gz file, a directory, or an http(s):// URL polled for changes (required)',
  },
  bundle_poll_min_ms: {
    type: 'integer', default: 10_000, min: 100, max: 86_400_000, example: '10000',
    help: 'with a bundle URL: shortest wait between polls (each wait is random between min and max)',
  },
  bundle_poll_max_ms: {
    type: 'integer', default: 20_000, min: 100, max: 86_400_000, example: '20000',
    help: 'with a bundle URL: longest wait between polls; failures back off exponentially from here',
  },
  bundle_fetch_timeout_ms: {
    type: 'integer', default: 10_000, min: 100, max: 600_000, example: '10000',
    help: 'with a bundle URL: longest a download may take',
  },
  bundle_bearer_token: {
    type: 'path', default: undefined, example: '$TOKEN',
    help: 'with a bundle URL: sent as "Authorization: Bearer <token>" (prefer the environment variable over the flag)',
  },
  bundle_require_newer_revision: {
    type: 'boolean', default: false, example: 'true',
    help: 'refuse a bundle whose .manifest revision is older than the active one (revisions: integers, or strings that sort, e.g. ISO timestamps)',
  },
  bundle_state_file: {
    type: 'path', default: undefined, example: '/var/lib/gatehouse/revision.json',
    help: 'with bundle_require_newer_revision: file recording the last activated revision, so a restart cannot be fed an older bundle',
  },
  bundle_verification_key_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/bundle-signing.pub',
    help: 'PEM public key; when set, every bundle must carry a valid .signatures.json (OPA bundle signing) covering all its files',
  },
  bundle_verification_key_id: {
    type: 'string', default: 'default', example: 'default',
    help: 'key id of bundle_verification_key_file, as in the token\'s "kid" (opa build uses "default")',
  },
  bundle_verification_algorithm: {
    type: 'enum', default: 'RS256', values: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'], example: 'ES256',
    help: 'signature algorithm of bundle_verification_key_file',
  },
  bundle_verification_scope: {
    type: 'path', default: undefined, example: 'prod',
    help: 'scope the signature must carry',
  },
  bundle_accept_unverified_signatures: {
    type: 'boolean', default: false, example: 'true',
    help: 'without bundle_verification_key_file, a bundle carrying .signatures.json is refused (the previous one keeps serving); true loads it without checking the signature',
  },
  activation_gate_inputs: {
    type: 'integer', default: 200, min: 0, max: 10_000, example: '200',
    help: 'before a new bundle becomes active it decides up to this many recent distinct live inputs (kept in memory only, at most 16 Mi characters of JSON); if it errs (undefined, conflict, eval error) on any the active bundle allowed it is refused and the active one keeps serving; allow/deny flips are only logged; 0 turns the gate off',
  },
  dry_run: {
    type: 'boolean', default: false, example: 'true',
    help: 'answer every Check with allow while logging and counting the decision the policy made (for trying a policy on live traffic)',
  },
  candidate_bundle: {
    type: 'path', default: undefined, example: 'build/candidate.tar.gz',
    help: 'a second bundle evaluated after the response (shadow) on a sample of Checks; divergences are logged and counted, never enforced',
  },
  candidate_sample_percent: {
    type: 'integer', default: 100, min: 0, max: 100, example: '10',
    help: 'share of Checks also evaluated by candidate_bundle',
  },
  entrypoint: {
    type: 'string', default: 'envoy/authz/allow', example: 'envoy/authz/allow',
    help: 'the rule whose value is the decision, as a slash-separated path',
    check: (v) => (ENTRYPOINT.test(v) ? undefined : 'must be a slash-separated rule path such as envoy/authz/allow'),
  },
  log_level: {
    type: 'enum', default: 'info', values: LOG_LEVELS, example: 'info',
    help: 'level of the operational log (stderr)',
  },
  decision_log: {
    type: 'string', default: 'stdout', example: 'stdout',
    help: 'where decision-log lines go: stdout, stderr, off, or a file path (appended)',
    check: (v) => (v === '' ? 'must be stdout, stderr, off or a file path' : undefined),
  },
  instance: {
    // 'path' is the schema's optional-string type (no default, no check), as for bundle_bearer_token.
    type: 'path', default: undefined, example: 'gatehouse-7d9f-x2k4q',
    help: 'this server\'s name in every decision-log line (labels.instance), to tell apart instances behind one Envoy cluster; default: the host name (in Kubernetes, the pod name)',
  },
  max_body_bytes: {
    type: 'integer', default: 1024 * 1024, min: 0, max: 64 * 1024 * 1024, example: '1048576',
    help: 'largest request body parsed into parsed_body; larger bodies are denied (body_too_large). Also sets the largest CheckRequest read over gRPC: 4 x this + 1 MiB, at least 64 MiB; a longer one is denied (413, body_too_large) as soon as its length arrives. Keep Envoy\'s with_request_body.max_request_bytes at or below this',
  },
  max_bundle_bytes: {
    type: 'integer', default: 64 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, example: '67108864',
    help: 'largest bundle accepted, uncompressed',
  },
  max_wasm_memory_mb: {
    type: 'integer', default: 256, min: 2, max: 4096, example: '256',
    help: 'upper bound of the policy\'s Wasm memory; an evaluation needing more is denied (eval_error)',
  },
  workers: {
    type: 'string', default: 'auto', example: '2', numberAsText: true,
    help: 'worker processes sharing the gRPC listener (connections are spread across them; one admin port, one decision log): a number from 1 to 256, or auto = the CPUs this process may use (CPU affinity and cgroup quota)',
    check: (v) => (v === 'auto' || (/^[1-9][0-9]*$/.test(v) && Number(v) <= 256) ? undefined : `must be auto or a whole number from 1 to 256, got ${JSON.stringify(v)}`),
  },
  eval_timeout_ms: {
    type: 'integer', default: 100, min: 0, max: 60_000, example: '100',
    help: 'longest one policy evaluation may run, in CPU time of its evaluation thread (a 10x wall-clock backstop stops a starved one); past it the evaluation is stopped and the Check denied (eval_timeout). Below Envoy\'s default ext_authz timeout (200 ms) so the deny carries gatehouse\'s reason. Below about 10 ordinary evaluations on a freshly started thread can be denied too. 0: no deadline (evaluations run on the gRPC thread, a runaway policy stalls every Check)',
  },
  max_concurrent_streams: {
    type: 'integer', default: 256, min: 1, max: 100_000, example: '256',
    help: 'HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised on each gRPC connection (Envoy honours it: a full connection makes it open another); streams a client sends past it are refused (REFUSED_STREAM, never processed), and a client that keeps exceeding it loses the connection',
  },
  max_connections: {
    type: 'integer', default: 4096, min: 1, max: 1_000_000, example: '4096',
    help: 'most gRPC connections one worker holds; more are closed at once and counted (gatehouse_connections_refused_total). Envoy fails the Checks it sent on such a connection (403, an allow under failure_mode_allow: true) unless its ext_authz retry_policy has retry_on: connect-failure,reset,refused-stream (docs/operations.md)',
  },
  watch: {
    type: 'boolean', default: true, example: 'true',
    help: 'reload the bundle when its file or directory changes',
  },
  reload_debounce_ms: {
    type: 'integer', default: 250, min: 0, max: 60_000, example: '250',
    help: 'quiet time after the last change before the bundle is reloaded',
  },
  max_connection_age_ms: {
    type: 'integer', default: 0, min: 0, max: 86_400_000, example: '1800000',
    help: 'close each gRPC connection with a GOAWAY after this age, ±10% jitter, so certificate rotation and CA removal reach every client; 0 (default) keeps connections, otherwise at least 10000. Checks the client sent while the GOAWAY was on its way are refused unprocessed: behind Envoy give the ext_authz grpc_service a retry_policy (retry_on: refused-stream, a short retry_back_off) and the gatehouse cluster circuit_breakers room for retries, or use the cluster\'s max_connection_duration instead (README, TLS section)',
    // Each cycle refuses the Checks already sent (nghttp2 ignores streams that arrive after it sent a
    // GOAWAY; Node cannot send the RFC 9113 shutdown notice): at 1 ms, 2856 of 6224 grpc-js Checks
    // failed UNAVAILABLE. Ten seconds keeps the cycles, and so the refusals, rare.
    check: (v) => (v === 0 || v >= MIN_CONNECTION_AGE_MS ? undefined : `must be 0 (off) or at least ${MIN_CONNECTION_AGE_MS} (every connection cycle can fail a Check in flight), got ${v}`),
  },
  max_connection_age_grace_ms: {
    type: 'integer', default: 30_000, min: 1, max: 3_600_000, example: '30000',
    help: 'after max_connection_age_ms closes a connection, how long its in-flight Checks may take before it is cut',
  },
  shutdown_drain_ms: {
    type: 'integer', default: 5_000, min: 0, max: 600_000, example: '5000',
    help: 'on SIGTERM, how long health (grpc.health.v1 and /readyz) says NOT_SERVING while Checks are still answered, so Envoy health checks and Kubernetes endpoint removal move traffic away first; a second SIGTERM ends it early; 0 stops at once',
  },
  shutdown_timeout_ms: {
    type: 'integer', default: 10_000, min: 0, max: 600_000, example: '10000',
    help: 'after the drain, how long in-flight Checks may take before the server stops anyway',
  },
  trust_domains: {
    type: 'list', default: [], example: 'mesh.local,partner.example',
    help: 'if set, deny (untrusted_trust_domain) any source whose SPIFFE trust domain is not listed, before policy evaluation',
    checkItem: (v) => (TRUST_DOMAIN.test(v) ? undefined : `has ${JSON.stringify(v)}, which is not a trust domain (lower-case [a-z0-9._-])`),
  },
  xfcc_trusted_sources: {
    type: 'list', default: [], example: 'spiffe://mesh.local/ns/edge/sa/gateway',
    help: 'SPIFFE IDs of proxies whose x-forwarded-client-cert is parsed into input.identity.xfcc; from anyone else it is ignored',
    checkItem: checkSpiffeId,
  },
  tls_cert_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/tls.crt',
    help: 'serve gRPC over TLS with this certificate (PEM); re-read when it changes',
  },
  tls_key_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/tls.key',
    help: 'private key (PEM) for tls_cert_file',
  },
  tls_client_ca_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/mesh-ca.crt',
    help: 'require client certificates issued by these CAs (mTLS)',
  },
  tls_client_trust_bundles: {
    type: 'list', default: [], example: 'mesh.local=/etc/gatehouse/mesh-ca.crt,partner.example=/etc/gatehouse/partner-ca.crt',
    help: 'require client certificates (mTLS) from per-trust-domain CAs, as trust.domain=file (PEM) pairs: a client whose SPIFFE ID is in trust domain T must be issued directly by a certificate in T\'s file (denied otherwise: client_certificate_invalid), so with an intermediate CA put the intermediate in the file, next to its root; instead of tls_client_ca_file',
    checkItem: (v) => {
      const [domain, file] = trustBundlePair(v);
      if (!v.includes('=') || file === '') return `has ${JSON.stringify(v)}, which is not trust.domain=/path/to/ca.pem`;
      return TRUST_DOMAIN.test(domain) ? undefined : `has ${JSON.stringify(domain)}, which is not a trust domain (lower-case [a-z0-9._-])`;
    },
  },
  invalid_source_certificate: {
    type: 'enum', default: 'deny', values: ['deny', 'policy'], example: 'deny',
    help: 'when the caller certificate Envoy forwards (include_peer_certificate) is not a valid X.509-SVID (two URI SANs, a CA, can sign certificates, URI SAN not the principal): deny before the policy runs (source_certificate_invalid), or hand it to the policy as input.identity.source_certificate.valid = false',
  },
  tls_allowed_clients: {
    type: 'list', default: [], example: 'spiffe://mesh.local/ns/shop/sa/inventory',
    help: 'with mTLS, only clients whose certificate URI SAN is listed get a decision; others are denied (client_not_allowed)',
    checkItem: checkSpiffeId,
  },
  tls_reload_interval_ms: {
    type: 'integer', default: 5_000, min: 100, max: 3_600_000, example: '5000',
    help: 'how often the TLS files are checked for changes (file-change events also trigger a check)',
  },
  decision_log_buffer_bytes: {
    type: 'integer', default: 8 * 1024 * 1024, min: 4096, max: 1024 * 1024 * 1024, example: '8388608',
    help: 'decision-log lines waiting for a slow sink; beyond this they are dropped and counted, never slowing Checks',
  },
  decision_log_allow_sample_percent: {
    type: 'integer', default: 100, min: 0, max: 100, example: '10',
    help: 'percentage of allow decisions logged (denies and errors are always logged)',
  },
  decision_log_mask: {
    type: 'list', default: [], example: '/input/parsed_body/password,/input/parsed_body/cards/*/number',
    help: 'JSON pointers into the decision-log event whose values are masked ("*" matches every child); authorization, cookie and API-key headers are always masked',
    checkItem: (v) => (v.startsWith('/') ? undefined : `has ${JSON.stringify(v)}, which is not a JSON pointer (it must start with "/")`),
  },
  decision_log_max_value_bytes: {
    type: 'integer', default: 1024, min: 64, max: 1024 * 1024, example: '1024',
    help: 'header values and bodies longer than this are truncated in the decision log (not in the decision)',
  },
  decision_log_service_url: {
    // 'path' is the schema's optional-string type; the URL is checked when the sink opens (observability/log-sink.ts).
    type: 'path', default: undefined, example: 'https://decision-logs.example.com/v1',
    help: 'also ship decision-log lines to a service speaking OPA\'s decision-log API: gzip-compressed JSON arrays POSTed to <url>/logs, batched (512 KiB or 1 s), retried with backoff, at most decision_log_buffer_bytes waiting (beyond that dropped and counted); set decision_log to off to ship only there',
  },
  decision_log_service_bearer_token: {
    type: 'path', default: undefined, example: '$TOKEN',
    help: 'with decision_log_service_url: sent as "Authorization: Bearer <token>" (prefer the environment variable over the flag)',
  },
  decision_log_service_tls_cert_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/logs-client.crt',
    help: 'with an https decision_log_service_url: client certificate (PEM) for mTLS, with decision_log_service_tls_key_file; re-read when it changes',
  },
  decision_log_service_tls_key_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/logs-client.key',
    help: 'private key (PEM) of decision_log_service_tls_cert_file',
  },
  decision_log_service_tls_ca_file: {
    type: 'path', default: undefined, example: '/etc/gatehouse/logs-ca.crt',
    help: 'CA certificates (PEM) the decision-log service\'s certificate must chain to; default: Node\'s trusted roots',
  },
  tracing: {
    type: 'enum', default: 'off', values: ['off', 'otlp'], example: 'otlp',
    help: 'otlp: a span per Check (with input, cache and evaluation children) continuing the caller\'s W3C or B3 trace, exported by the OpenTelemetry SDK over OTLP/HTTP protobuf, configured by the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME, OTEL_BSP_*); off: the SDK is not even loaded',
  },
  decision_cache: {
    type: 'enum', default: 'auto', values: ['auto', 'off'], example: 'auto',
    help: 'auto: cache decisions when the bundle\'s analysis shows it is safe (docs/decision-cache.md); off: never',
  },
  decision_cache_ttl_ms: {
    type: 'integer', default: 60_000, min: 1, max: 86_400_000, example: '60000',
    help: 'how long a cached decision is served',
  },
  decision_cache_max_entries: {
    type: 'integer', default: 100_000, min: 1, max: 100_000_000, example: '100000',
    help: 'most decisions kept; the least recently used go first',
  },
  decision_cache_max_bytes: {
    type: 'integer', default: 64 * 1024 * 1024, min: 64 * 1024, max: 16 * 1024 * 1024 * 1024, example: '67108864',
    help: 'most memory (keys and results, estimated) the cache may hold',
  },
  decision_cache_key_fields: {
    type: 'list', default: [], example: 'input.attributes.request.http.method,input.parsed_path',
    help: 'override the key fields derived from the policy (dotted input paths); you vouch that the policy reads nothing else',
    checkItem: (v) => (/^(input\.)?[^.]+(\.[^.]+)*$/.test(v) ? undefined : `has ${JSON.stringify(v)}, which is not a dotted input path`),
  },
  request_hygiene: {
    type: 'enum', default: 'strict', values: ['strict', 'compatible'], example: 'strict',
    help: 'strict: refuse requests a backend could read differently than the policy (docs/input.md#request-hygiene); compatible: the input opa-envoy-plugin gives, no hygiene rules (limits still apply)',
  },
  request_hygiene_allow: {
    type: 'list', default: [], example: 'path_parameters,underscore_header',
    help: `strict-mode hygiene rules to switch off, e.g. path_parameters to let ";" path parameters through; one of ${SWITCHABLE_RULE_IDS.join(', ')}`,
    checkItem: (v) => ((SWITCHABLE_RULE_IDS as readonly string[]).includes(v) ? undefined : `has ${JSON.stringify(v)}, which is not a hygiene rule (one of ${SWITCHABLE_RULE_IDS.join(', ')})`),
  },
  max_path_bytes: limit('max_path_bytes', 256, 1024 * 1024, 'longest request target (path and query) in bytes; longer is denied with 414 (path_too_long)'),
  max_path_segments: limit('max_path_segments', 8, 65_536, 'most "/"-separated path segments; more is denied with 414 (too_many_path_segments)'),
  max_query_params: limit('max_query_params', 8, 65_536, 'most query parameters; more is denied with 414 (too_many_query_params)'),
  max_headers: limit('max_headers', 16, 10_000, 'most request headers (pseudo-headers included); more is denied with 431 (too_many_headers)'),
  max_header_bytes: limit('max_header_bytes', 1024, 64 * 1024 * 1024, 'most bytes in all header names and values together; more is denied with 431 (headers_too_large)'),
  max_header_value_bytes: limit('max_header_value_bytes', 256, 64 * 1024 * 1024, 'longest single header value in bytes; longer is denied with 431 (header_value_too_long)'),
  max_form_fields: limit('max_form_fields', 1, 1_000_000, 'most fields in a form (x-www-form-urlencoded) body; more is denied with 413 (too_many_form_fields)'),
  max_multipart_parts: limit('max_multipart_parts', 1, 100_000, 'most parts in a multipart/form-data body; more is denied with 413 (too_many_multipart_parts)'),
  max_json_depth: limit('max_json_depth', 1, 128, 'deepest nesting of arrays/objects in a JSON body or part; deeper is denied with 400 (input_parse_error)'),
  decision_cache_nondeterministic_ttl_ms: {
    type: 'integer', default: 0, min: 0, max: 86_400_000, example: '1000',
    help: 'cache policies that call time/random/network builtins for this long; 0 never caches them',
  },
};

/** A tls_client_trust_bundles item, "trust.domain=/path/to/ca.pem", as [trust domain, file]. */
export function trustBundlePair(item: string): [domain: string, file: string] {
  const eq = item.indexOf('=');
  return [item.slice(0, eq), item.slice(eq + 1)];
}

export const flagName = (key: string): string => key.replaceAll('_', '-');
export const envName = (key: string): string => `GATEHOUSE_${key.toUpperCase()}`;
