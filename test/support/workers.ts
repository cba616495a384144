/** Helpers shared by the tests of `gatehouse serve --workers N` (a node:cluster primary and its workers). */
import { credentials } from '@grpc/grpc-js';
import type { ServeProcess } from './cli.js';
import { TestClient } from './grpc-client.js';
import { CHECKOUT } from './requests.js';

/** A policy allowing only CHECKOUT, with a marker that makes each build a distinct bundle. */
export const POLICY = (marker: string) => `package envoy.authz
import rego.v1
default allow := false
allow if input.identity.source.principal == "${CHECKOUT}"
marker := "${marker}"
`;

/** The primary's /readyz body. */
export interface Readyz {
  ready: boolean;
  reason?: string;
  policy: { revision: string; loaded_at?: string } | null;
  workers: { worker: number; pid: number | null; started?: boolean; ready: boolean; revision: string | null; restarts: number; reason?: string }[];
}

/** A client with its own connection (grpc-js otherwise shares one per target across clients). */
export function connection(server: ServeProcess): TestClient {
  return new TestClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

export async function readyz(server: ServeProcess): Promise<Readyz> {
  return (await (await fetch(`http://127.0.0.1:${server.adminPort}/readyz`)).json()) as Readyz;
}

export async function metricsText(server: ServeProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
}

/** The value of one series in Prometheus text, e.g. series(text, 'gatehouse_workers'); NaN when absent. */
export function series(text: string, name: string): number {
  const escaped = name.replace(/[{}"\\]/g, (c) => `\\${c}`);
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

/** The sum of every series of `metric` (all label sets). */
export function sumOf(text: string, metric: string): number {
  let total = 0;
  for (const match of text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(match[1]);
  return total;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
