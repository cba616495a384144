/**
 * Callers that look like probes or scanners rather than services: their calls are listed for
 * review and, unless asked, not learned (one would otherwise widen the allow-list to whatever a
 * scanner tried, and its many one-off paths would turn real literal segments into {id}).
 *
 * ext_authz never sees the upstream's answer, so "404-ish" is judged from the requests alone. A
 * scanner tries many things once; a service calls the same things again and again. A caller is a
 * probe when any of these holds:
 * - it asked for at least 2 distinct well-known scanner targets (/.env, /.git/config,
 *   /wp-login.php, /etc/passwd, ...), fewer than 3 times each on average (a gateway in front of a
 *   real WordPress asks for /wp-login.php all day);
 * - at least 3 of its requests, and at least 1 in 10, were refused before the policy (request
 *   hygiene: traversal, encoded separators, malformed paths);
 * - it reached at least `minTopLevel` distinct first path segments, fewer than 3 requests each on
 *   average, and the policy denied most of its requests (a crawl across a service rather than
 *   calls to an API).
 */

export interface CallerCall {
  caller: string;
  segments: string[] | undefined;
  /** The serving policy allowed it. */
  allowed: boolean;
  /** Refused before the policy, or a path the allow-list cannot state. */
  refused: boolean;
}

export interface Probe {
  caller: string;
  requests: number;
  reasons: string[];
}

const SCANNER_SEGMENTS: ReadonlySet<string> = new Set([
  '.env', '.git', '.svn', '.hg', '.aws', '.ssh', '.htaccess', '.htpasswd', '.ds_store', 'wp-admin', 'wp-login.php',
  'wp-content', 'wp-includes', 'xmlrpc.php', 'phpmyadmin', 'cgi-bin', 'server-status', 'passwd', 'boaform', 'hnap1',
  'jmx-console', 'phpunit',
]);
const SCANNER_SUFFIX = /\.(php\d?|asp|aspx|jsp|cgi|pl|bak|old|sql|swp|ini|env|git)$/i;

export interface ProbeOptions {
  /** Distinct first path segments that, with mostly denied requests, mark a crawl; default 10. */
  minTopLevel: number;
}

interface CallerStats {
  requests: number;
  denied: number;
  refused: number;
  /** Distinct scanner-target paths (at most 1000 kept). */
  scanner: Set<string>;
  /** Requests for scanner targets. */
  scannerRequests: number;
  /** Distinct first path segments (at most 1000 kept). */
  topLevel: Set<string>;
}

/** Per-caller counts, added to call by call (memory per caller, not per call). */
export class ProbeFinder {
  readonly #stats = new Map<string, CallerStats>();

  add(call: CallerCall): void {
    let s = this.#stats.get(call.caller);
    if (!s) this.#stats.set(call.caller, (s = { requests: 0, denied: 0, refused: 0, scanner: new Set(), scannerRequests: 0, topLevel: new Set() }));
    s.requests++;
    if (!call.allowed) s.denied++;
    if (call.refused) s.refused++;
    if (call.segments) {
      if (s.topLevel.size < 1000) s.topLevel.add(call.segments[0] ?? '');
      if (call.segments.some(isScannerSegment)) {
        s.scannerRequests++;
        if (s.scanner.size < 1000) s.scanner.add(`/${call.segments.join('/')}`);
      }
    }
  }

  /** The callers that look like probes, with the reasons, in caller order. */
  probes(options: ProbeOptions): Probe[] {
    const probes: Probe[] = [];
    for (const [caller, s] of [...this.#stats.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const reasons: string[] = [];
      if (s.scanner.size >= 2 && s.scannerRequests < 3 * s.scanner.size) {
        reasons.push(`asked for ${s.scanner.size} well-known scanner targets (${[...s.scanner].slice(0, 3).join(', ')}${s.scanner.size > 3 ? ', ...' : ''})`);
      }
      if (s.refused >= 3 && s.refused * 10 >= s.requests) reasons.push(`${s.refused} requests refused before the policy (malformed or hostile paths)`);
      if (s.topLevel.size >= options.minTopLevel && s.requests < 3 * s.topLevel.size && s.denied * 2 > s.requests) {
        reasons.push(`${s.topLevel.size} distinct first path segments in ${s.requests} requests, ${Math.round((100 * s.denied) / s.requests)}% denied by the policy`);
      }
      if (reasons.length > 0) probes.push({ caller, requests: s.requests, reasons });
    }
    return probes;
  }
}

function isScannerSegment(segment: string): boolean {
  return SCANNER_SEGMENTS.has(segment.toLowerCase()) || SCANNER_SUFFIX.test(segment);
}
