/**
 * max_connection_age_ms without losing a call. grpc-js' own `grpc.max_connection_age_ms` sends
 * GOAWAY (last stream id 2^31-1) and calls `session.close()` at once. From then on Node refuses
 * every new stream (REFUSED_STREAM), including those the client sent before the GOAWAY reached it;
 * through Envoy each is an `ext_authz_error`, a 403 under failure_mode_allow: false
 * (test/e2e/connection-age.test.ts saw 1-15 per run at a 0.2 s age).
 *
 * Here: GOAWAY(2^31-1), so the client opens no new streams on this connection, but streams already
 * on their way are still accepted; `closeAfterMs` later, and after a PING round trip (everything the
 * client sent before answering has arrived), `session.close()`: open calls finish, none is refused.
 * After `graceMs` more, whatever is left is cut.
 *
 * Sessions are reached through grpc-js' `http2Servers` map (its listeners). If a grpc-js version
 * renames it, `attachConnectionAge` returns false and start-up fails with the fix.
 */
import { constants, type Http2Server, type ServerHttp2Session } from 'node:http2';

const ALL_STREAMS = 2 ** 31 - 1;

export interface ConnectionAgeOptions {
  maxAgeMs: number;
  graceMs: number;
  /** Between the GOAWAY and closing: time for the client to read it. */
  closeAfterMs: number;
}

/** Ages every connection the grpc-js `server` accepts from now on; false when its internals are not as expected. */
export function attachConnectionAge(server: object, options: ConnectionAgeOptions): boolean {
  const listeners = (server as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map) || listeners.size === 0) return false;
  for (const listener of listeners.keys() as Iterable<Http2Server>) {
    if (typeof listener?.on !== 'function') return false;
    listener.on('session', (session: ServerHttp2Session) => ageSession(session, options));
  }
  return true;
}

function ageSession(session: ServerHttp2Session, options: ConnectionAgeOptions): void {
  const timers: NodeJS.Timeout[] = [];
  const later = (ms: number, run: () => void) => timers.push(setTimeout(run, ms).unref());
  const open = () => !session.closed && !session.destroyed;
  const close = () => {
    if (!open()) return;
    session.close();
    later(options.graceMs, () => session.destroy());
  };
  // ±10% jitter, as grpc-js and gRPC C++ do, so connections opened together do not close together.
  later(options.maxAgeMs * (0.9 + 0.2 * Math.random()), () => {
    if (!open()) return;
    try {
      session.goaway(constants.NGHTTP2_NO_ERROR, ALL_STREAMS);
    } catch {
      session.destroy();
      return;
    }
    later(options.closeAfterMs, () => {
      if (open() && !session.ping(() => close())) close();
    });
  });
  session.once('close', () => timers.forEach(clearTimeout));
}
