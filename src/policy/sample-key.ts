/**
 * What makes two live inputs "the same" for the activation gate. Real Envoy traffic never repeats
 * an input exactly: every request has its own x-request-id, trace headers, request.time,
 * request.http.id and source port. Keyed on the whole input, a sample of 200 "distinct" inputs is
 * the last 200 requests, and a rare route is pushed out by a burst of a common one.
 *
 * When the active policy's cache plan knows the fields it reads, the key is their values (what the
 * policy can tell apart). Otherwise it is the input without those per-request fields. Field names
 * follow the input document (docs/input.md: proto JSON, lowerCamelCase).
 */
import type { CachePlan } from '../cache/plan.js';
import { cacheKey } from '../cache/cache-key.js';

/** Headers that differ per request and never carry what a policy decides on (tracing, request ids). */
const PER_REQUEST_HEADERS: readonly string[] = [
  'x-request-id', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags',
  'x-amzn-trace-id', 'x-cloud-trace-context', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-attempt-count',
];

type Node = Record<string, unknown>;

export function sampleKey(input: unknown, inputJson: string, plan: CachePlan | undefined): string {
  if (plan?.enabled) return cacheKey('', plan.fields, input, Number.MAX_SAFE_INTEGER)!;
  const attributes = objectAt(input, 'attributes');
  if (!attributes) return inputJson;
  // Copies along the paths that change, so the input the policy saw is left as it is.
  const copy = { ...(input as Node), attributes: { ...attributes } };
  const request = objectAt(attributes, 'request');
  if (request) {
    const requestCopy: Node = { ...request };
    delete requestCopy.time;
    const http = objectAt(request, 'http');
    if (http) {
      const httpCopy: Node = { ...http };
      delete httpCopy.id;
      const headers = objectAt(http, 'headers');
      if (headers) {
        const headersCopy: Node = { ...headers };
        for (const name of PER_REQUEST_HEADERS) delete headersCopy[name];
        httpCopy.headers = headersCopy;
      }
      requestCopy.http = httpCopy;
    }
    copy.attributes.request = requestCopy;
  }
  const socket = objectAt(objectAt(objectAt(attributes, 'source'), 'address'), 'socketAddress');
  if (socket) {
    const source = objectAt(attributes, 'source')!;
    const { portValue: _port, ...socketCopy } = socket;
    copy.attributes.source = { ...source, address: { ...objectAt(source, 'address'), socketAddress: socketCopy } };
  }
  return JSON.stringify(copy);
}

function objectAt(node: unknown, key: string): Node | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const value = (node as Node)[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : undefined;
}
