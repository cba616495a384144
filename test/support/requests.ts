/** Building CheckRequests for tests, in Envoy's proto JSON form. */
import { fromProtoJson } from '../../src/authz/proto-json.js';
import { authzProtos } from '../../src/grpc/protos.js';

export const CHECKOUT = 'spiffe://mesh.local/ns/shop/sa/checkout';
export const INVENTORY = 'spiffe://mesh.local/ns/shop/sa/inventory';
export const PAYMENTS = 'spiffe://mesh.local/ns/shop/sa/payments';

export interface RequestSpec {
  source?: string;
  destination?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

export function checkRequestJson(spec: RequestSpec = {}): Record<string, unknown> {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/api/v1/stock/sku-1';
  const attributes: Record<string, unknown> = {
    source: { address: { socketAddress: { address: '127.0.0.1', portValue: 40000 } }, ...(spec.source ? { principal: spec.source } : {}) },
    destination: { address: { socketAddress: { address: '127.0.0.1', portValue: 8443 } }, principal: spec.destination ?? INVENTORY },
    request: {
      time: '2026-11-22T10:00:00Z',
      http: {
        id: '1',
        method,
        path,
        host: 'inventory.shop.svc',
        scheme: 'https',
        protocol: 'HTTP/2',
        headers: { ':method': method, ':path': path, ':authority': 'inventory.shop.svc', 'x-request-id': 'r-1', ...spec.headers },
        ...(spec.body !== undefined ? { body: spec.body } : {}),
      },
    },
  };
  return { attributes };
}

export function encodeRequest(json: unknown): Buffer {
  const protos = authzProtos();
  return protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, json));
}
