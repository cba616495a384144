/**
 * The `format` checks of OPA's gojsonschema (format_checkers.go), built from the Go functions they
 * call: net/mail.ParseAddress (email, idn-email), net.ParseIP (ipv4, ipv6), time.Parse (date,
 * time, date-time), url.Parse (uri, iri, uri-reference, iri-reference, uri-template), Go regexp
 * (regex), and gojsonschema's own patterns (hostname, uuid, json-pointer). Any other format name
 * passes, as in gojsonschema; so do values that are not strings.
 */
import { parseIP } from './go-net.js';
import { GoParseError, parseTime } from './go-time-parse.js';
import { UTC } from './go-time-zone.js';
import { parseUrl } from './go-url.js';
import { compileGoRegexp, findAllSubmatchIndex, GoString } from './re2.js';

/** gojsonschema's patterns, matched with Go's regexp (RE2: linear time, Go's syntax). */
function goPattern(pattern: string): { test: (s: string) => boolean } {
  const re = compileGoRegexp('json.match_schema', pattern);
  return { test: (s) => findAllSubmatchIndex(re, new GoString(s), 1).length > 0 };
}

const HOSTNAME = goPattern('^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])(\\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9]))*$');
const URI_TEMPLATE = goPattern('^([^{]*({[^}]*})?)*$');
const UUID = goPattern('^(?i)[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$');
const JSON_POINTER = goPattern('^(?:/(?:[^~/]|~0|~1)*)*$');
const RELATIVE_JSON_POINTER = goPattern('^(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^~/]|~0|~1)*)*)$');

const parses = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

const timeParses = (layout: string, s: string) => {
  try {
    parseTime(layout, s, UTC);
    return true;
  } catch (error) {
    if (error instanceof GoParseError) return false;
    throw error;
  }
};

/** net/mail's atext: visible ASCII but the specials, and any multibyte rune. */
const ATEXT = /[^\s()<>[\]:;@\\,".\u0000-\u001f\u007f]/u;

/**
 * net/mail.ParseAddress, reduced to what decides validity: `addr-spec`, or `phrase <addr-spec>`,
 * with dot-atoms or quoted strings, domains as dot-atoms or literals, comments and spaces around.
 */
export function isMailAddress(s: string): boolean {
  let i = 0;
  const rest = () => s.slice(i);
  const skipCFWS = (): boolean => {
    for (;;) {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      if (s[i] !== '(') return true;
      let depth = 0;
      for (; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) break;
      }
      if (i >= s.length) return false;
      i++;
    }
  };
  const atom = (dot: boolean): string | undefined => {
    const start = i;
    while (i < s.length && (ATEXT.test(String.fromCodePoint(s.codePointAt(i)!)) || (dot && s[i] === '.'))) i += s.codePointAt(i)! > 0xffff ? 2 : 1;
    const text = s.slice(start, i);
    if (text === '' || (dot && (text.startsWith('.') || text.endsWith('.') || text.includes('..')))) return undefined;
    return text;
  };
  const quoted = (): boolean => {
    if (s[i] !== '"') return false;
    for (i++; i < s.length; i++) {
      if (s[i] === '\\') i++;
      else if (s[i] === '"') {
        i++;
        return true;
      }
    }
    return false;
  };
  const addrSpec = (): boolean => {
    const start = i;
    const local = s[i] === '"' ? quoted() : atom(true) !== undefined;
    if (!local || s[i] !== '@') {
      i = start;
      return false;
    }
    i++;
    skipCFWS();
    if (s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) return false;
      i = close + 1;
      return true;
    }
    return atom(true) !== undefined;
  };
  // Go skips spaces (not comments) before the address
  while (s[i] === ' ' || s[i] === '\t') i++;
  const start = i;
  if (addrSpec() && skipCFWS() && rest() === '') return true;
  i = start;
  // display name: words (atoms, permissive of dots, or quoted strings), then <addr-spec>
  let words = 0;
  while (i < s.length && s[i] !== '<') {
    skipCFWS();
    if (s[i] === '<') break;
    if (!(s[i] === '"' ? quoted() : atom(true) !== undefined || (s[i] === '.' && ++i > 0))) return false;
    words++;
  }
  if (s[i] !== '<') return false;
  i++;
  if (!addrSpec() || s[i] !== '>') return false;
  i++;
  return skipCFWS() && rest() === '' && words >= 0;
}

const noBackslash = (s: string) => !s.includes('\\');

/** Format name → gojsonschema's check. */
export const GOJSONSCHEMA_FORMATS: Readonly<Record<string, (s: string) => boolean>> = {
  date: (s) => timeParses('2006-01-02', s),
  time: (s) => timeParses('15:04:05Z07:00', s) || timeParses('15:04:05', s),
  'date-time': (s) => ['15:04:05', '15:04:05Z07:00', '2006-01-02', '2006-01-02T15:04:05Z07:00', '2006-01-02T15:04:05.999999999Z07:00'].some((l) => timeParses(l, s)),
  hostname: (s) => HOSTNAME.test(s) && s.length < 256,
  email: isMailAddress,
  'idn-email': isMailAddress,
  ipv4: (s) => parseIP(s) !== undefined && s.includes('.'),
  ipv6: (s) => parseIP(s) !== undefined && s.includes(':'),
  uri: (s) => {
    try {
      return parseUrl(s).scheme !== '' && noBackslash(s);
    } catch {
      return false;
    }
  },
  'uri-reference': (s) => parses(() => parseUrl(s)) && noBackslash(s),
  iri: (s) => GOJSONSCHEMA_FORMATS.uri!(s),
  'iri-reference': (s) => GOJSONSCHEMA_FORMATS['uri-reference']!(s),
  'uri-template': (s) => {
    try {
      return noBackslash(s) && URI_TEMPLATE.test(parseUrl(s).path);
    } catch {
      return false;
    }
  },
  uuid: (s) => UUID.test(s),
  regex: (s) => s === '' || parses(() => compileGoRegexp('json.match_schema', s)),
  'json-pointer': (s) => JSON_POINTER.test(s),
  'relative-json-pointer': (s) => RELATIVE_JSON_POINTER.test(s),
};
