/**
 * A strict DER reader (ITU-T X.690 §10) with the semantics of Go's golang.org/x/crypto/cryptobyte,
 * which crypto/x509 parses with: definite, minimal lengths; one-byte tags; integers without
 * redundant leading bytes. It exposes each element's raw bytes, which OPA's certificate shape
 * carries (Raw, RawTBSCertificate, RawSubject, ...). The certificate itself is also parsed by
 * OpenSSL (node:crypto X509Certificate); this reader only lays out the fields.
 */

export const TAG = {
  BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06,
  UTF8String: 0x0c, PrintableString: 0x13, T61String: 0x14, IA5String: 0x16, UTCTime: 0x17,
  GeneralizedTime: 0x18, NumericString: 0x12, BMPString: 0x1e, SEQUENCE: 0x30, SET: 0x31,
} as const;

/** Context-specific tag n (constructed when `constructed`). */
export function contextTag(n: number, constructed = false): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

export interface Element {
  tag: number;
  /** The content octets. */
  content: Buffer;
  /** The whole element, header included. */
  raw: Buffer;
}

export class DerError extends Error {}

export class DerReader {
  #pos = 0;
  constructor(private readonly data: Buffer) {}

  get empty(): boolean {
    return this.#pos >= this.data.length;
  }

  peekTag(): number | undefined {
    return this.empty ? undefined : this.data[this.#pos];
  }

  /** The next element (any tag). @throws DerError when malformed. */
  readAny(): Element {
    const data = this.data;
    const start = this.#pos;
    if (data.length - start < 2) throw new DerError('truncated element');
    const tag = data[start]!;
    if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
    let length = data[start + 1]!;
    let header = 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4) throw new DerError('unsupported length');
      if (data.length - start < 2 + count) throw new DerError('truncated length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + data[start + 2 + i]!;
      if (length < 0x80 || data[start + 2] === 0) throw new DerError('non-minimal length');
      header += count;
    }
    const end = start + header + length;
    if (end > data.length) throw new DerError('truncated content');
    this.#pos = end;
    return { tag, content: data.subarray(start + header, end), raw: data.subarray(start, end) };
  }

  /** The next element, which must have `tag`. */
  read(tag: number, what: string): Element {
    if (this.peekTag() !== tag) throw new DerError(`malformed ${what}`);
    return this.readAny();
  }

  /** The next element if it has `tag`. */
  readOptional(tag: number): Element | undefined {
    return this.peekTag() === tag ? this.readAny() : undefined;
  }

  /** The content of a SEQUENCE as a reader. */
  sequence(what: string): DerReader {
    return new DerReader(this.read(TAG.SEQUENCE, what).content);
  }
}

export function readerOf(element: Element): DerReader {
  return new DerReader(element.content);
}

/** An INTEGER's value (two's complement), rejecting non-minimal encodings as cryptobyte does. */
export function integer(content: Buffer): bigint {
  if (content.length === 0) throw new DerError('empty integer');
  if (content.length > 1 && ((content[0] === 0 && !(content[1]! & 0x80)) || (content[0] === 0xff && content[1]! & 0x80))) {
    throw new DerError('non-minimal integer');
  }
  let value = BigInt(`0x${content.toString('hex')}`);
  if (content[0]! & 0x80) value -= 1n << BigInt(content.length * 8);
  return value;
}

/** A bigint as a Rego number: a JS number when exact. */
export function regoInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** An OBJECT IDENTIFIER's arcs. */
export function oid(content: Buffer): number[] {
  if (content.length === 0) throw new DerError('empty OID');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const byte = content[i]!;
    if (value === 0 && byte === 0x80) throw new DerError('non-minimal OID');
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError('OID arc too large');
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) {
      throw new DerError('truncated OID');
    }
  }
  const first = arcs[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)];
}

export function oidString(arcs: number[]): string {
  return arcs.join('.');
}

export function boolean(content: Buffer): boolean {
  if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff)) throw new DerError('malformed boolean');
  return content[0] === 0xff;
}

/** A BIT STRING: its bytes (right-aligned as Go's RightAlign) and bit length. */
export function bitString(content: Buffer): { bytes: Buffer; bitLength: number; at: (i: number) => number } {
  if (content.length === 0) throw new DerError('malformed bit string');
  const padding = content[0]!;
  const bytes = content.subarray(1);
  if (padding > 7 || (bytes.length === 0 && padding !== 0) || (padding > 0 && (bytes[bytes.length - 1]! & ((1 << padding) - 1)) !== 0)) {
    throw new DerError('malformed bit string');
  }
  const bitLength = bytes.length * 8 - padding;
  const at = (i: number) => (i < 0 || i >= bitLength ? 0 : (bytes[Math.floor(i / 8)]! >> (7 - (i % 8))) & 1);
  let aligned = bytes;
  if (padding > 0) {
    // Go's BitString.RightAlign shifts the whole string right by the padding.
    aligned = Buffer.alloc(bytes.length);
    let prev = 0;
    for (let i = 0; i < bytes.length; i++) {
      aligned[i] = ((prev << (8 - padding)) | (bytes[i]! >> padding)) & 0xff;
      prev = bytes[i]!;
    }
  }
  return { bytes: aligned, bitLength, at };
}

/**
 * UTCTime / GeneralizedTime as cryptobyte reads them (UTCTime also to the minute; `Z` or a ±hhmm
 * offset; no fractions) and Go's time.Time marshals them (RFC 3339, the offset kept).
 */
export function time(element: Element): string {
  const text = element.content.toString('latin1');
  if (element.tag === TAG.UTCTime) {
    const match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})$/.exec(text);
    if (!match) throw new DerError('malformed UTCTime');
    const yy = Number(match[1]);
    return format(yy >= 50 ? 1900 + yy : 2000 + yy, [match[2]!, match[3]!, match[4]!, match[5]!, match[6] ?? '00'], match[7]!);
  }
  if (element.tag === TAG.GeneralizedTime) {
    // Go parses a fraction but cryptobyte refuses it: the text must be what the layout formats back.
    const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(Z|[+-]\d{4})$/.exec(text);
    if (!match) throw new DerError('malformed GeneralizedTime');
    return format(Number(match[1]), [match[2]!, match[3]!, match[4]!, match[5]!, match[6]!], match[7]!);
  }
  throw new DerError('unsupported time format');
}

function format(year: number, parts: string[], zone: string): string {
  const [month, day, hour, minute, second] = parts.map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  const zoneHours = zone === 'Z' ? 0 : Number(zone.slice(1, 3));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59 || zoneHours > 23 || Number(zone.slice(3)) > 59) {
    throw new DerError('malformed time');
  }
  const offset = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return `${String(year).padStart(4, '0')}-${parts[0]}-${parts[1]}T${parts[2]}:${parts[3]}:${parts[4]}${offset}`;
}
