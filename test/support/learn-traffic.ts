/**
 * Generated mesh traffic whose true allow-list is known, for `gatehouse learn` tests: callers,
 * destinations, templated paths filled with fresh random ids per seed, rare edges, and a caller
 * that scans like a probe.
 */
import { pickOne, seededRandom } from './seeded-random.js';

const TD = 'spiffe://mesh.local';
export const GATEWAY = `${TD}/ns/edge/sa/gateway`;
export const CHECKOUT = `${TD}/ns/shop/sa/checkout`;
export const BILLING = `${TD}/ns/finance/sa/billing`;
export const PROBER = `${TD}/ns/ops/sa/prober`;
export const SCANNER = `${TD}/ns/tools/sa/scanner`;
export const ORDERS = `${TD}/ns/shop/sa/orders`;
export const INVENTORY = `${TD}/ns/shop/sa/inventory`;
export const PAYMENTS = `${TD}/ns/shop/sa/payments`;
export const SHIPPING = `${TD}/ns/shop/sa/shipping`;

export interface Call {
  source: string;
  destination: string;
  method: string;
  path: string;
}

type Rand = () => number;

const int = (r: Rand) => String(1 + Math.floor(r() * 9_999_999));
const hex = (r: Rand, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
const uuid = (r: Rand) => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
const sku = (r: Rand) => `sku-${Array.from({ length: 6 }, () => 'abcdefghjkmnpqrstuvwxyz23456789'[Math.floor(r() * 31)]).join('')}`;

interface TrueEdge {
  caller: string;
  destination: string;
  method: string;
  /** The template the learned data must hold. */
  template: string;
  path: (r: Rand) => string;
  /** Share of the common traffic; rare edges have a fixed count instead. */
  weight?: number;
  rare?: number;
}

/** The true allow-list: what the services really call. */
export const TRUE_EDGES: readonly TrueEdge[] = [
  { caller: GATEWAY, destination: ORDERS, method: 'GET', template: '/api/v1/orders/{int}', path: (r) => `/api/v1/orders/${int(r)}`, weight: 6 },
  { caller: GATEWAY, destination: ORDERS, method: 'GET', template: '/api/v1/orders/{int}/items', path: (r) => `/api/v1/orders/${int(r)}/items?limit=${int(r)}`, weight: 3 },
  { caller: GATEWAY, destination: ORDERS, method: 'POST', template: '/api/v1/orders', path: () => '/api/v1/orders', weight: 2 },
  // Numbered pages at the root, next to /api and /healthz.
  { caller: GATEWAY, destination: ORDERS, method: 'GET', template: '/page{int}', path: (r) => `/page${Math.floor(r() * 500)}`, weight: 2 },
  { caller: CHECKOUT, destination: INVENTORY, method: 'GET', template: '/api/v1/stock/sku-{id}', path: (r) => `/api/v1/stock/${sku(r)}`, weight: 5 },
  // Mixed shapes at one position: numbers, short hex words and dates between "report-" and ".pdf".
  { caller: CHECKOUT, destination: INVENTORY, method: 'GET', template: '/api/v1/reports/report-{id}.pdf', path: (r) => `/api/v1/reports/report-${pickOne(r, [int(r), hex(r, 6), `2026-${int(r)}`])}.pdf`, weight: 2 },
  { caller: CHECKOUT, destination: INVENTORY, method: 'POST', template: '/api/v1/reservations', path: () => '/api/v1/reservations', weight: 2 },
  { caller: CHECKOUT, destination: INVENTORY, method: 'DELETE', template: '/api/v1/reservations/{uuid}', path: (r) => `/api/v1/reservations/${uuid(r)}`, weight: 2 },
  { caller: CHECKOUT, destination: PAYMENTS, method: 'POST', template: '/api/v1/charges', path: () => '/api/v1/charges', weight: 2 },
  { caller: CHECKOUT, destination: PAYMENTS, method: 'GET', template: '/api/v1/charges/{uuid}', path: (r) => `/api/v1/charges/${uuid(r)}`, weight: 2 },
  { caller: BILLING, destination: PAYMENTS, method: 'GET', template: '/api/v1/invoices/{hex}', path: (r) => `/api/v1/invoices/${hex(r, 40)}`, weight: 2 },
  { caller: BILLING, destination: PAYMENTS, method: 'GET', template: '/api/v1/invoices/{hex}/pdf', path: (r) => `/api/v1/invoices/${hex(r, 40)}/pdf`, weight: 1 },
  { caller: BILLING, destination: PAYMENTS, method: 'GET', template: '/api/v1/receipts/{uuid}.json', path: (r) => `/api/v1/receipts/${uuid(r)}.json`, weight: 2 },
  { caller: PROBER, destination: ORDERS, method: 'GET', template: '/healthz', path: () => '/healthz', weight: 1 },
  { caller: PROBER, destination: INVENTORY, method: 'GET', template: '/healthz', path: () => '/healthz', weight: 1 },
  // Rare: seen once or twice in a training window, still real.
  { caller: BILLING, destination: ORDERS, method: 'GET', template: '/api/v1/orders/export', path: () => '/api/v1/orders/export', rare: 2 },
  { caller: PROBER, destination: PAYMENTS, method: 'GET', template: '/healthz', path: () => '/healthz', rare: 1 },
];

/** "caller destination METHOD template" for every true edge. */
export function trueEdgeKeys(): string[] {
  return TRUE_EDGES.map((e) => `${e.caller} ${e.destination} ${e.method} ${e.template}`).sort();
}

/** `common` weighted calls plus every rare edge's count, in a seeded random order. */
export function trueTraffic(seed: number, common: number): Call[] {
  const r = seededRandom(seed);
  const weighted = TRUE_EDGES.filter((e) => e.weight !== undefined);
  const total = weighted.reduce((n, e) => n + e.weight!, 0);
  const calls: Call[] = [];
  // Every weighted edge at least a few times, then by weight.
  for (const e of weighted) for (let i = 0; i < 3; i++) calls.push(call(e, r));
  while (calls.length < common) {
    let x = r() * total;
    const e = weighted.find((w) => (x -= w.weight!) < 0) ?? weighted[0]!;
    calls.push(call(e, r));
  }
  for (const e of TRUE_EDGES) for (let i = 0; i < (e.rare ?? 0); i++) calls.push(call(e, r));
  return shuffle(calls, r);
}

/** What a scanner inside the mesh asks one service for. */
export function scannerTraffic(seed: number): Call[] {
  const r = seededRandom(seed);
  const targets = ['/.env', '/.git/config', '/wp-login.php', '/admin', '/api/v2/users', '/actuator/health', '/server-status', '/backup.sql', '/phpmyadmin/index.php', '/config.json', '/console', '/debug/pprof'];
  const calls = targets.map((path) => ({ source: SCANNER, destination: ORDERS, method: 'GET', path }));
  for (let i = 0; i < 10; i++) calls.push({ source: SCANNER, destination: ORDERS, method: pickOne(r, ['GET', 'POST']), path: `/${hex(r, 6)}x/${int(r)}` });
  return calls;
}

/** Calls next to the true ones that the learned allow-list must deny: other methods, callers, destinations, extra or changed segments, ids of another shape. */
export const BROADER_CALLS: readonly Call[] = [
  { source: GATEWAY, destination: ORDERS, method: 'DELETE', path: '/api/v1/orders/5' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders' },
  { source: GATEWAY, destination: ORDERS, method: 'POST', path: '/api/v1/orders/5' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders/5/items/6' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders/5/extra' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders/5/' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v2/orders/5' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/order/5' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders/5/item' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders/abc' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/api/v1/orders/export' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/healthz' },
  { source: GATEWAY, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-abc123' },
  { source: CHECKOUT, destination: ORDERS, method: 'GET', path: '/api/v1/orders/5' },
  { source: CHECKOUT, destination: INVENTORY, method: 'PUT', path: '/api/v1/stock/sku-abc123' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-abc123/history' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/.hidden' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/a%2Fb' },
  { source: CHECKOUT, destination: INVENTORY, method: 'DELETE', path: '/api/v1/reservations/not-a-uuid' },
  { source: CHECKOUT, destination: INVENTORY, method: 'DELETE', path: '/api/v1/reservations' },
  { source: CHECKOUT, destination: PAYMENTS, method: 'POST', path: '/api/v1/charges/x' },
  { source: CHECKOUT, destination: PAYMENTS, method: 'GET', path: '/api/v1/invoices/0123456789abcdef0123' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/invoices/xyz' },
  // {hex} was learned from 40-digit hashes: a short word spelled in hex digits is not one.
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/invoices/cafe' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/invoices/0123456789abcde/pdf' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/invoices/0123456789abcdef0123/csv' },
  { source: BILLING, destination: PAYMENTS, method: 'POST', path: '/api/v1/charges' },
  // Template segments are only what was seen: the literal prefix and suffix, and the narrowest variable between them.
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/admin' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/SKU-abc123' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-.x' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/reports/report-.pdf' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/reports/report-1' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/reports/summary.pdf' },
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/reports/admin' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/page' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/pageX' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/page1x' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/page-1' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/page1/edit' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/anything' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/admin' },
  { source: GATEWAY, destination: ORDERS, method: 'GET', path: '/page{int}' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/receipts/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/receipts/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11.json.json' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/receipts/latest.json' },
  { source: BILLING, destination: PAYMENTS, method: 'GET', path: '/api/v1/receipts/.json' },
  { source: PROBER, destination: ORDERS, method: 'GET', path: '/metrics' },
  { source: PROBER, destination: SHIPPING, method: 'GET', path: '/healthz' },
  { source: CHECKOUT, destination: SHIPPING, method: 'GET', path: '/api/v1/stock/sku-abc123' },
  { source: SCANNER, destination: ORDERS, method: 'GET', path: '/.env' },
  { source: SCANNER, destination: ORDERS, method: 'GET', path: '/healthz' },
  { source: 'spiffe://evil.example/ns/edge/sa/gateway', destination: ORDERS, method: 'GET', path: '/api/v1/orders/5' },
];

function call(e: TrueEdge, r: Rand): Call {
  return { source: e.caller, destination: e.destination, method: e.method, path: e.path(r) };
}

function shuffle<T>(items: T[], r: Rand): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
