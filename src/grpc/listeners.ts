/**
 * The `net.Server`s (http2 servers) a grpc-js `Server` listens with. grpc-js creates them inside
 * `bindAsync` and exposes none; it keeps them as the keys of its private `http2Servers` map
 * (node_modules/@grpc/grpc-js/build/src/server.js, 1.14). Reached here, and only here, to set
 * things grpc-js has no channel argument for (the max_connections limit in grpc/server.ts).
 *
 * test/integration/connection-limits.test.ts fails if a grpc-js version moves them; until then
 * `grpcListeners` returns undefined and start-up fails with the fix.
 */
import type { Server as NetServer } from 'node:net';

export function grpcListeners(server: object): NetServer[] | undefined {
  const map = (server as { http2Servers?: unknown }).http2Servers;
  if (!(map instanceof Map) || map.size === 0) return undefined;
  const listeners = [...map.keys()] as unknown[];
  return listeners.every((l): l is NetServer => typeof (l as NetServer | undefined)?.listen === 'function') ? listeners : undefined;
}
