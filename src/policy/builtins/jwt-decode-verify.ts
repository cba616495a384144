/**
 * io.jwt.decode_verify(token, constraints) as OPA v1.19.1's builtinJWTDecodeVerify: constraints
 * `cert` | `secret` (exactly one), `alg`, `iss`, `aud`, `time` (ns; the evaluation's clock when
 * absent). A token that fails a check is `[false, {}, {}]`; malformed input is an error.
 */
import { newObject } from './args.js';
import { verificationKeys, type VerificationKey } from './jose-keys.js';
import { goBytesToString } from './go-bytes.js';
import { jwsVerify } from './jws.js';
import { type ParsedToken, decodePart, decodeSegment, jsonObject, parseHeader, splitToken, tokenHeader } from './jwt-token.js';
import type { BuiltinContext, RegoObject, RegoValue } from './types.js';

const BUILTIN = 'io.jwt.decode_verify';

interface Constraints {
  keys: VerificationKey[] | undefined;
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  /** ns since the epoch, as Go's float64. */
  time: number;
  /** Whether `time` came from the clock (then the result expires with the token). */
  clockTime: boolean;
}

function timeFromValue(value: RegoValue | undefined): number {
  if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error('token time constraint: must be a number');
  const time = Number(value);
  if (time < 0) throw new Error('token time constraint: must not be negative');
  return time;
}

function stringConstraint(name: string, value: RegoValue | undefined): string {
  if (typeof value !== 'string') throw new Error(`${name} constraint: must be a string`);
  return value;
}

function parseConstraints(ctx: BuiltinContext, object: RegoObject): Constraints {
  const constraints: Constraints = { keys: undefined, secret: '', alg: '', iss: '', aud: '', time: -1, clockTime: false };
  // Go iterates an ast.Object in key order; the first bad constraint is the error.
  for (const name of Object.keys(object).sort()) {
    const value = object[name];
    switch (name) {
      case 'cert':
        constraints.keys = verificationKeys(stringConstraint('cert', value));
        break;
      case 'secret':
      case 'alg':
      case 'iss':
      case 'aud':
        constraints[name] = stringConstraint(name, value);
        break;
      case 'time':
        constraints.time = timeFromValue(value);
        break;
      default:
        throw new Error(`unknown token validation constraint: ${name}`);
    }
  }
  if (constraints.time === -1) {
    constraints.time = timeFromValue(ctx.nowNs());
    constraints.clockTime = true;
  }
  const keyConstraints = (constraints.keys ? 1 : 0) + (constraints.secret !== '' ? 1 : 0);
  if (keyConstraints > 1) throw new Error('duplicate key constraints');
  if (keyConstraints < 1) throw new Error('no key constraint');
  return constraints;
}

/** constraints.verify: a kid naming a key decides alone; otherwise any alg-compatible key. */
function signatureVerifies(constraints: Constraints, kid: string, alg: string, token: ParsedToken, signature: Buffer): boolean {
  const data = Buffer.from(`${token.header}.${token.payload}`);
  const keys = constraints.keys;
  if (!keys) return jwsVerify(Buffer.from(constraints.secret), alg, data, signature);
  if (kid !== '') {
    const named = keys.find((key) => key.kid === kid);
    if (named) return jwsVerify(named, alg, data, signature);
  }
  return keys.some((key) => (key.alg === '' || key.alg === alg) && jwsVerify(key, alg, data, signature));
}

/** Go's ast.Compare of a float64 against a token's number: -1, 0 or 1. */
function compare(a: number, b: number | bigint): number {
  if (typeof b === 'bigint') {
    if (Number.isInteger(a)) return BigInt(a) < b ? -1 : BigInt(a) > b ? 1 : 0;
    return a < Number(b) ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Seconds (a token's exp/nbf) as ns, rounded down. */
export function secondsToNs(seconds: number | bigint): bigint | undefined {
  if (typeof seconds === 'bigint') return seconds * 1_000_000_000n;
  if (!Number.isFinite(seconds)) return undefined;
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.floor((seconds - whole) * 1e9));
}

function unverified(): RegoValue {
  return [false, newObject(), newObject()];
}

export function decodeVerify(ctx: BuiltinContext, jwt: RegoValue | undefined, object: RegoObject): RegoValue {
  const constraints = parseConstraints(ctx, object);
  let current: RegoValue | undefined = jwt;
  let header: RegoObject;
  let payloadBytes: Buffer;
  for (;;) {
    const token = splitToken(BUILTIN, current);
    header = tokenHeader(token);
    const parsed = parseHeader(header);
    // RFC 7515 4.1.1: alg is required; 4.1.11: a critical parameter we do not know invalidates it.
    if (parsed.alg === '' || parsed.unknown.some((name) => parsed.crit?.has(name))) return unverified();
    if (constraints.alg !== '' && constraints.alg !== parsed.alg) return unverified();
    const signature = decodeSegment(token.signature);
    if (!signatureVerifies(constraints, parsed.kid, parsed.alg, token, signature)) return unverified();
    payloadBytes = decodePart(token.payload, 'payload');
    if (parsed.cty.toUpperCase() !== 'JWT') break;
    current = goBytesToString(payloadBytes);
  }
  const payload = jsonObject(payloadBytes);
  return checkClaims(ctx, constraints, header, payload);
}

function checkClaims(ctx: BuiltinContext, constraints: Constraints, header: RegoObject, payload: RegoObject): RegoValue {
  if (constraints.iss !== '') {
    if (!Object.hasOwn(payload, 'iss')) return unverified();
    // OPA reads iss as a string unchecked (a Go panic otherwise); here that is an error.
    if (typeof payload.iss !== 'string') throw new Error('iss: must be a string');
    if (payload.iss !== constraints.iss) return unverified();
  }
  if (Object.hasOwn(payload, 'aud')) {
    if (!validAudience(constraints.aud, payload.aud!)) return unverified();
  } else if (constraints.aud !== '') {
    return unverified();
  }
  const seconds = constraints.time / 1e9;
  let expiresNs: bigint | undefined;
  if (Object.hasOwn(payload, 'exp')) {
    const exp = payload.exp;
    if (typeof exp !== 'number' && typeof exp !== 'bigint') throw new Error('exp value must be a number');
    if (compare(seconds, exp) !== -1) return unverified();
    expiresNs = secondsToNs(exp);
  }
  if (Object.hasOwn(payload, 'nbf')) {
    const nbf = payload.nbf;
    if (typeof nbf !== 'number' && typeof nbf !== 'bigint') throw new Error('nbf value must be a number');
    if (compare(seconds, nbf) === -1) {
      // Not yet valid: the answer changes at nbf.
      const notBeforeNs = secondsToNs(nbf);
      if (constraints.clockTime && notBeforeNs !== undefined) ctx.validUntilNs(notBeforeNs);
      return unverified();
    }
  }
  // Whatever time the policy checked against (the clock, or a `time` constraint it took from
  // time.now_ns), a decision reused past exp could outlive the token.
  if (expiresNs !== undefined) ctx.validUntilNs(expiresNs);
  return [true, header, payload];
}

/** validAudience: a string equal to the constraint, or an array with such a string. */
function validAudience(aud: string, value: RegoValue): boolean {
  if (typeof value === 'string') return value === aud;
  if (!Array.isArray(value)) return false;
  return value.some((item) => typeof item === 'string' && item === aud);
}
