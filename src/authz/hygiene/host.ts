/**
 * The canonical host: what every backend means by a Host / :authority value. Lower case, no
 * trailing dot, no port; the port separately, explicit or the scheme's default. strict mode adds
 * it to the input (`canonical_host`, `canonical_port`) and refuses a host that is not already in
 * this form (rule host_not_canonical), because existing policies compare the raw
 * `attributes.request.http.host`.
 */

export interface CanonicalHost {
  /** Lower-case name without trailing dot; IPv6 literals keep their brackets. */
  name: string;
  /** Explicit port, else the scheme's default; undefined when neither is known. */
  port?: number;
  /** The canonical authority text: name, plus ":port" unless the port is 80, 443 or the scheme's default. */
  authority: string;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };
const WEB_PORTS = new Set([80, 443]);
const NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/** The canonical form of `authority`, or a string saying why it has none. */
export function canonicalHost(authority: string, scheme: string | undefined): CanonicalHost | string {
  if (authority.includes('@')) return 'has userinfo';
  let name = authority;
  let portText: string | undefined;
  const bracket = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > bracket) {
    name = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
  }
  name = name.toLowerCase();
  if (name.endsWith('.') && !name.startsWith('[')) name = name.slice(0, -1);
  if (!(NAME.test(name) || IPV6.test(name))) return 'is not a host name or IP literal';
  const defaultPort = scheme === undefined ? undefined : DEFAULT_PORTS[scheme.toLowerCase()];
  let port = defaultPort;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return 'has an invalid port';
    port = Number(portText);
  }
  // :80 and :443 are dropped whatever the scheme: the scheme Envoy saw (TLS may end before it)
  // need not be the one the client or the backend assumes, and name-based hosting ignores them.
  const authorityText = port === undefined || port === defaultPort || WEB_PORTS.has(port) ? name : `${name}:${port}`;
  return port === undefined ? { name, authority: authorityText } : { name, port, authority: authorityText };
}
