/**
 * The admin HTTP listener: /healthz (the process is alive), /readyz (a policy is loaded and the
 * gRPC listener is bound; 503 with the reason otherwise), /metrics (Prometheus text format).
 * With workers > 1 the cluster primary serves it: /metrics is every worker's metrics aggregated,
 * /readyz the workers' readiness (src/cluster/primary.ts).
 * With admin_ui: true it also serves the live authorization map under /live
 * (observability/live/live-routes.ts).
 */
import { createServer, type Server } from 'node:http';
import type { LiveRoutes } from './live/live-routes.js';

/** What /metrics serves: a prom-client Registry, or the cluster primary's aggregation of its workers'. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

/** `live`: the live map's routes (admin_ui: true); undefined when the page is off. */
export function createAdminServer(registry: MetricsSource, readiness: () => Readiness, live?: LiveRoutes): Server {
  return createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (live && url.startsWith('/live') && live.handle(req, res, url)) return;
    switch (url) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const state = readiness();
        res.writeHead(state.ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ ready: state.ready, ...state.detail })}\n`);
        return;
      }
      case '/metrics':
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${error.message}\n`),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try /healthz, /readyz or /metrics${live ? ' or /live' : ''}\n`);
    }
  });
}
