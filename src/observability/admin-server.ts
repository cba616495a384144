/**
 * The admin HTTP listener: /healthz (the process is alive), /readyz (a policy is loaded and the
 * gRPC listener is bound; 503 with the reason otherwise), /metrics (Prometheus text format).
 * With workers > 1 the cluster primary serves it: /metrics is every worker's metrics aggregated,
 * /readyz the workers' readiness (src/cluster/primary.ts).
 */
import { createServer, type Server } from 'node:http';

/** What /metrics serves: a prom-client Registry, or the cluster primary's aggregation of its workers'. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

export function createAdminServer(registry: MetricsSource, readiness: () => Readiness): Server {
  return createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
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
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
    }
  });
}
