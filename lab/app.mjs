// The lab's workloads: tiny HTTP services that answer with what they received, and remember it.
//
// Their router is deliberately as lenient as common frameworks (case-insensitive, ";" parameters
// stripped Tomcat-style, "%2F" and "\" taken as separators, empty and dot segments resolved), so a
// path trick that slips past the sidecar shows up here as a request for a route the policy
// never allowed.
import { createServer } from 'node:http';

/** The route a lenient framework would dispatch `rawPath` to, e.g. "/admin". */
export function lenientRoute(rawPath) {
  const pathPart = rawPath.split('?')[0] ?? '';
  const segments = [];
  for (const raw of pathPart.split('/')) {
    let decoded;
    try {
      decoded = decodeURIComponent(raw.split(';')[0] ?? '');
    } catch {
      decoded = raw;
    }
    for (const part of decoded.split(/[\\/]/)) {
      const segment = (part.split(';')[0] ?? '').toLowerCase();
      if (segment === '' || segment === '.') continue;
      if (segment === '..') segments.pop();
      else segments.push(segment);
    }
  }
  return `/${segments.join('/')}`;
}

/**
 * @typedef {{ method: string, path: string, route: string, headers: Record<string, string | string[] | undefined>, body: string }} SeenRequest
 */

/**
 * Start one workload's application on 127.0.0.1:port.
 * @param {string} name
 * @param {number} port
 * @returns {Promise<{ name: string, port: number, seen: SeenRequest[], close(): Promise<void> }>}
 */
export async function startApp(name, port) {
  /** @type {SeenRequest[]} */
  const seen = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        path: req.url ?? '',
        route: lenientRoute(req.url ?? ''),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: name, ...request }));
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  return {
    name,
    port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
