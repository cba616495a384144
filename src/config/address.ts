/** Listen addresses of the configuration (addr, admin_addr) and of `gatehouse call --addr`. */
import type { ListenAddress } from './schema.js';

/** ":9191", "host:9191", "[::1]:9191", "unix:///path/to.sock" (and "off" where allowed). */
export function parseAddress(text: string, allowOff: boolean, fail: (problem: string) => never): ListenAddress | null {
  if (allowOff && (text === 'off' || text === '')) return null;
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) fail(`must be unix:///absolute/path, got ${JSON.stringify(text)}`);
    return { kind: 'unix', path, text };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(text);
  if (!match) return fail(`must be host:port, :port or unix:///path, got ${JSON.stringify(text)}`);
  const port = Number(match[2]);
  if (port > 65535) return fail(`has port ${port}, above 65535`);
  const host = match[1] === '' ? '0.0.0.0' : match[1]!.replace(/^\[|\]$/g, '');
  return { kind: 'tcp', host, port, text };
}
