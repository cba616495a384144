/** Subject alternative names as node:crypto and node:tls render them (`URI:a, DNS:b`). */

/**
 * Node renders SANs as `URI:a, DNS:b`, JSON-quoting a value that contains a comma or quote
 * (`URI:"a, b"`), so entries are split outside quotes only.
 */
export function subjectAltNames(text: string | undefined): { uris: string[]; dns: string[] } {
  const uris: string[] = [];
  const dns: string[] = [];
  if (!text) return { uris, dns };
  for (const entry of splitOutsideQuotes(text)) {
    const colon = entry.indexOf(':');
    if (colon === -1) continue;
    const kind = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (kind === 'URI') uris.push(value);
    else if (kind === 'DNS') dns.push(value);
  }
  return { uris, dns };
}

function splitOutsideQuotes(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\' && i + 1 < text.length) {
      // Inside quotes a backslash escapes the next character, whatever it is.
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && c === ',' && text[i + 1] === ' ') {
      parts.push(current);
      current = '';
      i++;
      continue;
    }
    current += c;
  }
  if (current) parts.push(current);
  return parts;
}
