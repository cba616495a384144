/** What the offline commands (check, test, replay) share: policy loading and request shorthands. */
import { authorize } from '../authz/authorize.js';
import type { Outcome } from '../authz/outcome.js';
import { fromProtoJson } from '../authz/proto-json.js';
import { cacheSettings, loadConfig, requestHygiene } from '../config/load.js';
import { flagName, type Config } from '../config/schema.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { authzProtos } from '../grpc/protos.js';
import { CertificateMemo } from '../identity/peer-certificate.js';
import { EVALUATION_KEYS, type Values } from './config-flags.js';
import { readBundle } from '../policy/bundle.js';
import { WasmPolicy } from '../policy/evaluator.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export type { Values } from './config-flags.js';

export interface OfflinePolicy {
  config: Readonly<Config>;
  policy: WasmPolicy;
}

/** The bundle named by --bundle, loaded exactly as the server loads it (the evaluation flags validated as serve validates them). */
export async function loadOfflinePolicy(values: Values, usage: string): Promise<OfflinePolicy> {
  if (typeof values.bundle !== 'string') throw new GatehouseError('usage', `--bundle is required\n\n${usage}`);
  if (/^https?:\/\//i.test(values.bundle)) {
    throw new GatehouseError('usage', `--bundle ${values.bundle}: this command reads a local bundle (a .tar.gz file or a directory), not a URL: download it first (curl -fsSo bundle.tar.gz URL)`);
  }
  const flags: Record<string, string | boolean | undefined> = {};
  for (const key of EVALUATION_KEYS) {
    const value = values[flagName(key)];
    if (typeof value === 'string' || typeof value === 'boolean') flags[flagName(key)] = value;
  }
  const config = loadConfig({ flags, env: {} });
  const bundle = await readBundle(config.bundle, { maxBytes: config.max_bundle_bytes });
  const policy = await WasmPolicy.load(bundle, {
    entrypoint: config.entrypoint,
    maxMemoryBytes: config.max_wasm_memory_mb * 1024 * 1024,
    cache: cacheSettings(config),
  });
  return { config, policy };
}

/** The few fields a person writes to describe a request (decision tables, tests). */
export interface RequestShorthand {
  source?: string;
  destination?: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * The shorthand as a CheckRequest in Envoy's proto JSON form (`:method`/`:path` headers included;
 * `host` from the `:authority` header, else `host`, as Envoy fills it).
 */
export function shorthandRequest(spec: RequestShorthand): { attributes: Record<string, any> } {
  const method = spec.method ?? 'GET';
  const header = (name: string) => Object.entries(spec.headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
  const host = header(':authority') ?? header('host');
  return {
    attributes: {
      ...(spec.source ? { source: { principal: spec.source } } : {}),
      ...(spec.destination ? { destination: { principal: spec.destination } } : {}),
      request: {
        http: {
          method,
          path: spec.path,
          ...(host !== undefined ? { host } : {}),
          headers: { ':method': method, ':path': spec.path, ...spec.headers },
          ...(spec.body !== undefined ? { body: spec.body } : {}),
        },
      },
    },
  };
}

/**
 * A CheckRequest in Envoy's proto JSON form, decided exactly as the server decides one: encoded to
 * protobuf bytes, decoded, turned into the input, evaluated.
 */
export function decideRequestJson(offline: OfflinePolicy, requestJson: unknown, what: string): Outcome {
  const protos = authzProtos();
  let bytes: Buffer;
  try {
    bytes = protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, requestJson));
  } catch (error) {
    throw new GatehouseError('usage', `${what} is not a CheckRequest in proto JSON form: ${describeThrown(error)}`);
  }
  return authorize(bytes, {
    decode: protos.decodeCheckRequest,
    currentPolicy: () => offline.policy,
    inputOptions: { maxBodyBytes: offline.config.max_body_bytes, hygiene: requestHygiene(offline.config), xfccTrustedSources: new Set(offline.config.xfcc_trusted_sources), certificates: new CertificateMemo() },
    trustDomains: new Set(offline.config.trust_domains),
    invalidSourceCertificate: offline.config.invalid_source_certificate,
    newDecisionId: () => 'offline',
    nowNs: process.hrtime.bigint,
  });
}
