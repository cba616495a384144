// Types for lab/lab.mjs, for the TypeScript end-to-end tests (test/e2e).
import type { IncomingHttpHeaders } from 'node:http';
import type { SeenRequest } from './app.mjs';

export declare const ROOT: string;
export declare const TRUST_DOMAIN: string;
export declare const WORKLOADS: Record<'gateway' | 'checkout' | 'inventory' | 'payments' | 'prober', { spiffeId: string; serves: boolean }>;
export declare const OUTSIDERS: Record<'evil' | 'rogue', { spiffeId: string; ca: 'mesh' | 'rogue' }>;
export declare const POLICIES: Record<PolicyVariant, { description: string; extra: string[] }>;
export type PolicyVariant = 'hardened' | 'wildcard';

export declare function findEnvoy(): string | undefined;
export declare function findOpa(): string | undefined;
export declare function missingTools(): string[];
export declare function envoyVersion(binary?: string): string | undefined;
export declare function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number, intervalMs?: number): Promise<T>;
export declare function uriSans(certFile: string): string[];

export interface CallRequest {
  method?: string;
  /** Sent exactly as given: no client-side normalization. */
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface CallResult {
  requestId: string;
  /** 0 when no HTTP response came back (then `error` says why). */
  status: number;
  headers?: IncomingHttpHeaders;
  text?: string;
  json?: any;
  error?: NodeJS.ErrnoException;
}

/** One line of a sidecar's Envoy access log (envoy/inbound.yaml, envoy/outbound.yaml). */
export interface AccessLogLine {
  sidecar: string;
  direction: 'inbound' | 'outbound';
  request_id: string | null;
  method: string | null;
  path: string | null;
  response_code: number;
  response_flags: string;
  response_code_details?: string | null;
  decision_id?: string | null;
  reason_code?: string | null;
  peer_spiffe_id?: string | null;
  local_spiffe_id?: string | null;
  upstream_spiffe_id?: string | null;
  [key: string]: unknown;
}

export interface LabWorkload {
  spiffeId: string;
  serves: boolean;
  cert: string;
  key: string;
  appPort?: number;
  inboundPort?: number;
  outbound: Record<string, number>;
  adminPort: number;
  accessLog: string;
  app?: { name: string; port: number; seen: SeenRequest[] };
}

export interface Lab {
  dir: string;
  envoy: string;
  envoyVersion: string | undefined;
  /** Every decision-log event gatehouse wrote, across restarts. */
  decisions: Record<string, any>[];
  workloads: Record<string, LabWorkload>;
  outsiders: Record<string, { spiffeId: string; cert: string; key: string }>;
  meshCa: string;
  bundle: string;
  policies: Record<PolicyVariant, { file: string; revision: string }>;
  policy: PolicyVariant;
  gatehouse: {
    grpcPort: number;
    adminPort: number;
    readonly running: boolean;
    start(): Promise<void>;
    stop(): Promise<void>;
    readyz(): Promise<Record<string, any>>;
  };
  usePolicy(variant: PolicyVariant): Promise<void>;
  call(from: string, to: string, request?: CallRequest): Promise<CallResult>;
  callDirect(to: string, client: string, request?: CallRequest): Promise<CallResult>;
  accessLog(workload: string): AccessLogLine[];
  accessLogFor(workload: string, requestId: string, direction?: 'inbound' | 'outbound'): Promise<AccessLogLine>;
  decisionFor(requestId: string): Promise<Record<string, any>>;
  envoyStats(workload: string, filter: string): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export declare function startLab(options?: { policy?: PolicyVariant; log?: (line: string) => void }): Promise<Lab>;
