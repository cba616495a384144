/**
 * The live authorization map's HTTP routes on the admin listener (admin_ui: true):
 *   GET /live                the page (docs/learn.md#the-live-authorization-map)
 *   GET /live/assets/NAME    its script and styles, and the graph (cytoscape) and chart (uPlot)
 *                            libraries, from this installation: nothing is fetched from elsewhere
 *   GET /live/snapshot       the current summary as JSON
 *   GET /live/events         the same, as server-sent events (event "snapshot"), every second
 *
 * Summaries are computed only while a page is connected: one timer for all of them, started by
 * the first and stopped with the last. At most MAX_CLIENTS pages at once; a client too slow to take
 * an event misses it rather than making the server buffer, and one that has taken none of the last
 * MAX_MISSED_EVENTS (it stopped reading) is disconnected, so stalled clients cannot hold every slot.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { GatehouseError } from '../../errors.js';
import type { LiveWindow } from './live-summary.js';

export const MAX_CLIENTS = 8;
/** Events in a row a page may miss (its connection still full) before it is disconnected: 30 s at one a second. */
export const MAX_MISSED_EVENTS = 30;
const DEFAULT_INTERVAL_MS = 1000;

/** The policy the server is serving, as the page's header shows it. */
export interface LivePolicyStatus {
  revision: string | null;
  bundle: string | null;
  /** ISO time the revision was loaded, when known. */
  loaded_at?: string;
  /** The last reload attempt: ok (loaded or unchanged), or failed with the error the previous revision kept serving through. */
  last_reload: { status: 'ok' | 'failed'; code?: string; message?: string };
}

/**
 * What the page receives: the window, the policy, and in a cluster how many workers answered
 * (`reporting`) of those that were asked (`running`: started and answering heartbeats) and of the
 * `workers` setting (`configured`: fewer running means some are restarting or hung).
 */
export interface LiveSnapshot extends LiveWindow {
  policy: LivePolicyStatus;
  workers?: { reporting: number; running: number; configured: number };
}

export interface LiveRoutes {
  /** Serves `path` (under /live) and returns true, or returns false for a path it does not own. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Ends every event stream (before the admin server closes, which waits for open responses). */
  close(): void;
}

interface Asset {
  type: string;
  body: Buffer;
}

/** Page assets (copied next to this module by the build) and library files (production dependencies). */
function loadAssets(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const own = (name: string) => fileURLToPath(new URL(`./assets/${name}`, import.meta.url));
  const files: [string, string, string][] = [
    ['index.html', own('index.html'), 'text/html; charset=utf-8'],
    ['live.js', own('live.js'), 'text/javascript; charset=utf-8'],
    ['live.css', own('live.css'), 'text/css; charset=utf-8'],
    ['cytoscape.min.js', require.resolve('cytoscape/dist/cytoscape.min.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.iife.min.js', require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.min.css', require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const assets = new Map<string, Asset>();
  for (const [name, file, type] of files) {
    try {
      assets.set(name, { type, body: readFileSync(file) });
    } catch (error) {
      throw new GatehouseError('config_invalid', `admin_ui: the live map's file ${file} cannot be read (${(error as Error).message}); rebuild with "npm run build" and install production dependencies (npm ci --omit=dev), or set admin_ui to false`);
    }
  }
  return assets;
}

/**
 * Headers of every response: the page may load and connect to this origin only (so it cannot
 * fetch anything from elsewhere even by mistake), and may not be framed. Inline styles are allowed
 * (cytoscape adds a <style> element for its container); inline scripts are not.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The routes, serving what `compute()` returns. Throws a GatehouseError (config_invalid) naming
 * the fix when the page's files are missing from this installation.
 */
export function createLiveRoutes(compute: () => Promise<LiveSnapshot>, intervalMs: number = DEFAULT_INTERVAL_MS): LiveRoutes {
  const assets = loadAssets();
  // Requests that arrive while a summary is being computed share it: with workers, each summary
  // asks every worker for its window, and a burst of /live/snapshot requests would ask once each.
  // The JSON text is shared too.
  let pending: Promise<string> | undefined;
  const snapshot = () =>
    (pending ??= compute()
      .then((value) => JSON.stringify(value))
      .finally(() => {
        pending = undefined;
      }));
  /** Each connected page's event stream, and how many events in a row it has missed. */
  const clients = new Map<ServerResponse, number>();
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;

  const broadcast = async () => {
    if (ticking) return; // the previous tick is still collecting (a slow worker): skip this one
    ticking = true;
    try {
      const event = `event: snapshot\ndata: ${await snapshot()}\n\n`;
      for (const [res, missed] of clients) {
        if (res.writableNeedDrain) {
          // A slow page misses this one (nothing piles up here); one that stopped reading is let go.
          if (missed + 1 >= MAX_MISSED_EVENTS) {
            clients.delete(res);
            res.destroy();
          } else clients.set(res, missed + 1);
          continue;
        }
        clients.set(res, 0);
        res.write(event);
      }
    } catch {
      // The snapshot failed (should not happen); the next tick tries again.
    } finally {
      ticking = false;
    }
  };

  const openStream = (req: IncomingMessage, res: ServerResponse) => {
    if (clients.size >= MAX_CLIENTS) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10', ...SECURITY_HEADERS }).end(`at most ${MAX_CLIENTS} live pages at once\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', ...SECURITY_HEADERS });
    res.write('retry: 2000\n\n');
    clients.set(res, 0);
    req.socket.setNoDelay(true);
    const drop = () => {
      clients.delete(res);
      if (clients.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    };
    res.on('close', drop);
    if (!timer) {
      timer = setInterval(() => void broadcast(), intervalMs);
      timer.unref();
    }
    void broadcast();
  };

  return {
    handle(req, res, path) {
      if (path === '/live' || path === '/live/') {
        const page = assets.get('index.html')!;
        res.writeHead(200, { 'content-type': page.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }).end(req.method === 'HEAD' ? undefined : page.body);
        return true;
      }
      if (path.startsWith('/live/assets/')) {
        const asset = assets.get(path.slice('/live/assets/'.length));
        if (!asset) return false;
        res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }).end(req.method === 'HEAD' ? undefined : asset.body);
        return true;
      }
      if (path === '/live/snapshot') {
        snapshot().then(
          (json) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS }).end(req.method === 'HEAD' ? undefined : `${json}\n`),
          (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`snapshot failed: ${error.message}\n`),
        );
        return true;
      }
      if (path === '/live/events') {
        if (req.method === 'HEAD') res.writeHead(200, { 'content-type': 'text/event-stream', ...SECURITY_HEADERS }).end();
        else openStream(req, res);
        return true;
      }
      return false;
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const res of clients.keys()) res.end();
      clients.clear();
    },
  };
}

/** The page's policy header from what the server knows: the serving revision and the last reload's error, if any. */
export function livePolicyStatus(
  policy: { revision: string; bundle?: string; loadedAt?: Date } | undefined,
  lastError: { code: string; message: string } | undefined,
): LivePolicyStatus {
  return {
    revision: policy?.revision ?? null,
    bundle: policy?.bundle ?? null,
    ...(policy?.loadedAt ? { loaded_at: policy.loadedAt.toISOString() } : {}),
    last_reload: lastError ? { status: 'failed', code: lastError.code, message: lastError.message } : { status: 'ok' },
  };
}
