/** Building CheckRequests for tests, in Envoy's proto JSON form. */
import { fromProtoJson } from '../../src/authz/proto-json.js';
import { shorthandRequest, type RequestShorthand } from '../../src/commands/common.js';
import { authzProtos } from '../../src/grpc/protos.js';

export const CHECKOUT = 'spiffe://mesh.local/ns/shop/sa/checkout';
export const INVENTORY = 'spiffe://mesh.local/ns/shop/sa/inventory';
export const PAYMENTS = 'spiffe://mesh.local/ns/shop/sa/payments';

/**
 * The decision tables' shorthand (the path defaults to a stock read on inventory), filled out the
 * way Envoy fills a request: addresses, time, request id, host, scheme, protocol.
 */
export function checkRequestJson(spec: Partial<RequestShorthand> = {}): Record<string, unknown> {
  const request = shorthandRequest({
    ...spec,
    destination: spec.destination ?? INVENTORY,
    path: spec.path ?? '/api/v1/stock/sku-1',
    headers: { ':authority': 'inventory.shop.svc', 'x-request-id': 'r-1', ...spec.headers },
  });
  const { attributes } = request;
  attributes.source = { ...attributes.source, address: { socketAddress: { address: '127.0.0.1', portValue: 40000 } } };
  attributes.destination = { ...attributes.destination, address: { socketAddress: { address: '127.0.0.1', portValue: 8443 } } };
  attributes.request.time = '2026-11-22T10:00:00Z';
  Object.assign(attributes.request.http, { id: '1', host: 'inventory.shop.svc', scheme: 'https', protocol: 'HTTP/2' });
  return request;
}

export function encodeRequest(json: unknown): Buffer {
  const protos = authzProtos();
  return protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, json));
}
