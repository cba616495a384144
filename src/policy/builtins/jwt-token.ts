/**
 * A JWT's three segments, decoded as OPA v1.19.1 decodes them (topdown/tokens.go decodeJWT,
 * decodeHeader, extractJSONObject): base64url with or without padding, JSON objects read by Go's
 * encoding/json (the last of duplicate keys wins; numbers exact).
 */
import { parseRegoValue } from '../rego-value.js';
import { stringArg } from './args.js';
import { goBytesToString } from './go-bytes.js';
import { opaBase64UrlDecode } from './go-encoding.js';
import type { RegoObject, RegoValue } from './types.js';

export interface ParsedToken {
  header: string;
  payload: string;
  signature: string;
}

/** decodeJWT: the three dot-separated segments, not yet decoded. */
export function splitToken(builtin: string, value: RegoValue | undefined): ParsedToken {
  const text = stringArg(builtin, 1, value);
  if (!text.includes('.')) throw new Error('encoded JWT had no period separators');
  const parts = text.split('.');
  if (parts.length !== 3) throw new Error(`encoded JWT must have 3 sections, found ${parts.length}`);
  return { header: parts[0]!, payload: parts[1]!, signature: parts[2]! };
}

export function decodeSegment(segment: string): Buffer {
  return opaBase64UrlDecode(segment);
}

/** A segment decoded, its error named as OPA names it ("JWT payload had invalid encoding: ..."). */
export function decodePart(segment: string, part: 'header' | 'payload' | 'signature'): Buffer {
  try {
    return opaBase64UrlDecode(segment);
  } catch (err) {
    throw new Error(`JWT ${part} had invalid encoding: ${(err as Error).message}`);
  }
}

/** decodeHeader: a JSON object without `enc` (JWE is not supported). */
export function tokenHeader(token: ParsedToken): RegoObject {
  const bytes = decodePart(token.header, 'header');
  let header: RegoObject;
  try {
    header = jsonObject(bytes);
  } catch (err) {
    throw new Error(`bad JWT header: ${(err as Error).message}`);
  }
  if (Object.hasOwn(header, 'enc')) throw new Error('JWT is a JWE object, which is not supported');
  return header;
}

/** The header parameters OPA reads (tokens.go parseTokenHeader), with its type checks. */
export interface TokenHeader {
  alg: string;
  kid: string;
  cty: string;
  crit: Set<string> | undefined;
  unknown: string[];
}

export function parseHeader(header: RegoObject): TokenHeader {
  const parsed: TokenHeader = { alg: '', kid: '', cty: '', crit: undefined, unknown: [] };
  for (const name of Object.keys(header).sort()) {
    const value = header[name];
    switch (name) {
      case 'alg':
      case 'kid':
      case 'typ':
      case 'cty':
        if (typeof value !== 'string') throw new Error(`${name}: must be a string`);
        if (name !== 'typ') parsed[name] = value;
        break;
      case 'crit': {
        if (!Array.isArray(value)) throw new Error('crit: must be a list');
        parsed.crit = new Set();
        // OPA stops at the first non-string entry and ignores the error.
        for (const item of value) {
          if (typeof item !== 'string') break;
          parsed.crit.add(item);
        }
        if (parsed.crit.size === 0) throw new Error('crit: must be a nonempty list');
        break;
      }
      default:
        parsed.unknown.push(name);
    }
  }
  return parsed;
}

/** extractJSONObject: the bytes as a JSON object (integers beyond 2^53 stay exact). */
export function jsonObject(bytes: Buffer): RegoObject {
  // Invalid UTF-8 becomes one U+FFFD per byte, as Go's decoder writes it.
  const text = goBytesToString(bytes);
  let value: RegoValue;
  try {
    // The Rego value parser keeps long integers exact and `__proto__` an ordinary key; beyond JSON
    // it only takes sets and non-string keys, which JSON cannot hold.
    value = parseRegoValue(text);
    if (!isJsonValue(value)) throw new SyntaxError('not JSON (a set or a non-string key)');
    // A \u escape of a lone surrogate is U+FFFD in Go.
    if (LONE_SURROGATE_ESCAPE.test(text)) value = wellFormed(value);
  } catch (err) {
    throw new Error(`invalid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Set || value instanceof Map) {
    throw new Error('decoded JSON type was not an Object');
  }
  return value;
}

const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const toWellFormed = (text: string): string => text.replace(LONE_SURROGATE, '\ufffd');

function wellFormed(value: RegoValue): RegoValue {
  if (typeof value === 'string') return toWellFormed(value);
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value === null || typeof value !== 'object' || value instanceof Set || value instanceof Map) return value;
  const out = Object.create(null) as RegoObject;
  for (const key of Object.keys(value)) out[toWellFormed(key)] = wellFormed(value[key]!);
  return out;
}

/** No sets, no non-string keys: the value came from JSON. */
function isJsonValue(value: RegoValue): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (value instanceof Set || value instanceof Map) return false;
  if (Array.isArray(value)) return value.every(isJsonValue);
  for (const key in value) if (!isJsonValue(value[key]!)) return false;
  return true;
}
