/**
 * OPA bundle signatures (https://www.openpolicyagent.org/docs/management-bundles/#signing):
 * `/.signatures.json` holds `{"signatures": [<one compact JWS>]}`; the JWS payload lists every
 * other file of the bundle with its digest (`files: [{name, hash, algorithm}]`), plus optional
 * `scope` and the deprecated `keyid` claim. Verification follows OPA v1/bundle/verify.go and
 * bundle.go `Reader.Read`, and is stricter where OPA is lenient:
 * - only asymmetric algorithms (RS*, PS*, ES*) with configured public keys; `none` and HMAC are
 *   refused whatever the header says, so a public key can never be used as an HMAC secret;
 * - the header `alg` must equal the algorithm configured for the key; `crit` is refused;
 * - the file list must match the bundle exactly: no duplicate, missing or unlisted file, and no
 *   exclusion list (OPA's `exclude_files`), so every byte gatehouse loads is covered;
 * - scope as in OPA: the token's `scope` must equal the configured one ("" when neither is set).
 * Pure: no I/O besides node:crypto. Keys are parsed once, by `prepareSignatureVerifier`.
 */
import { constants, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { GatehouseError, describeThrown } from '../errors.js';
import { DEFAULT_HASH, hashBundleFile } from './bundle-hash.js';

export const SIGNATURES_FILE = '.signatures.json';

const ALGORITHMS = {
  RS256: { hash: 'sha256', family: 'rsa' },
  RS384: { hash: 'sha384', family: 'rsa' },
  RS512: { hash: 'sha512', family: 'rsa' },
  PS256: { hash: 'sha256', family: 'pss' },
  PS384: { hash: 'sha384', family: 'pss' },
  PS512: { hash: 'sha512', family: 'pss' },
  ES256: { hash: 'sha256', family: 'ec', curve: 'prime256v1', signatureBytes: 64 },
  ES384: { hash: 'sha384', family: 'ec', curve: 'secp384r1', signatureBytes: 96 },
  ES512: { hash: 'sha512', family: 'ec', curve: 'secp521r1', signatureBytes: 132 },
} as const satisfies Record<string, { hash: string; family: 'rsa' | 'pss' | 'ec'; curve?: string; signatureBytes?: number }>;

export type SignatureAlgorithm = keyof typeof ALGORITHMS;
export const SIGNATURE_ALGORITHMS = Object.keys(ALGORITHMS) as SignatureAlgorithm[];
const MIN_RSA_BITS = 2048;

export interface SignatureConfig {
  keys: Record<string, { algorithm: SignatureAlgorithm; publicKeyPem: string }>;
  /** The scope the token must carry; unset means the token must carry none (as in OPA). */
  scope?: string;
  /** Key to use when the token names none (OPA's `--verification-key-id`, "default" in `opa build`). */
  defaultKeyId?: string;
}

export interface VerifiedSignature {
  keyId: string;
  algorithm: SignatureAlgorithm;
  /** Files covered, `.signatures.json` excluded: every other file of the bundle. */
  signedFiles: number;
}

export type BundleVerifier = (files: ReadonlyMap<string, Buffer>) => VerifiedSignature;

interface PreparedKey {
  algorithm: SignatureAlgorithm;
  key: KeyObject;
}

/** Validates and parses the keys once (config_invalid naming the key); the verifier is then pure. */
export function prepareSignatureVerifier(config: SignatureConfig): BundleVerifier {
  const ids = Object.keys(config.keys);
  if (ids.length === 0) throw configInvalid('no verification keys are configured');
  const keys = new Map<string, PreparedKey>();
  for (const id of ids) {
    const { algorithm, publicKeyPem } = config.keys[id]!;
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(publicKeyPem)) {
      throw configInvalid(`key "${id}" is a private key; configure its public key (openssl pkey -pubout)`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey(publicKeyPem);
    } catch (error) {
      throw configInvalid(`key "${id}" is not a PEM public key: ${describeThrown(error)}`);
    }
    const problem = keyProblem(algorithm, key);
    if (problem) throw configInvalid(`key "${id}": ${problem}`);
    keys.set(id, { algorithm, key });
  }
  if (config.defaultKeyId !== undefined && !keys.has(config.defaultKeyId)) {
    throw configInvalid(`default key id "${config.defaultKeyId}" is not among the configured keys (${ids.join(', ')})`);
  }
  const expectedScope = config.scope ?? '';
  return (files) => verifyWith(files, keys, expectedScope, config.defaultKeyId);
}

/**
 * The verifier when no key is configured: a bundle that carries a signature was meant to be
 * verified, so loading it unchecked would hide a missing key (or a key removed by mistake). Refused
 * unless the operator opted out with bundle_accept_unverified_signatures.
 */
export function refuseUnverifiedSignatures(files: ReadonlyMap<string, Buffer>): void {
  if (!files.has(SIGNATURES_FILE)) return;
  throw invalid(
    `bundle carries ${SIGNATURES_FILE} but no verification key is configured, so it cannot be checked. Fix: set bundle_verification_key_file ` +
      '(and bundle_verification_algorithm, _key_id, _scope as it was signed); to load signed bundles without checking them, set bundle_accept_unverified_signatures: true',
  );
}

/** Throws bundle_invalid with the precise reason unless `files` carry a valid signature covering exactly every other file. */
export function verifyBundleSignatures(files: ReadonlyMap<string, Buffer>, config: SignatureConfig): VerifiedSignature {
  return prepareSignatureVerifier(config)(files);
}

function verifyWith(files: ReadonlyMap<string, Buffer>, keys: Map<string, PreparedKey>, expectedScope: string, defaultKeyId: string | undefined): VerifiedSignature {
  const signaturesFile = files.get(SIGNATURES_FILE);
  if (!signaturesFile) throw invalid(`bundle has no ${SIGNATURES_FILE} but signature verification is configured (unsigned bundle)`);
  const token = singleToken(signaturesFile);

  const parts = token.split('.');
  if (parts.length !== 3) throw invalid(`the token is not a compact JWS (expected 3 dot-separated parts, found ${parts.length})`);
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJsonPart(headerPart, 'header');
  const algorithm = acceptedAlgorithm(header.alg);
  if (header.crit !== undefined) throw invalid('the token header has "crit" extensions, which are not supported');
  const payload = decodeJsonPart(payloadPart, 'payload');
  const signature = decodeBase64Url(signaturePart, 'signature');
  const keyId = chooseKeyId(header, payload, defaultKeyId);
  const prepared = keys.get(keyId);
  if (!prepared) throw invalid(`unknown key id "${keyId}" (configured: ${[...keys.keys()].join(', ')})`);
  if (prepared.algorithm !== algorithm) {
    throw invalid(`the token is signed with ${algorithm} but key "${keyId}" is configured for ${prepared.algorithm}`);
  }
  if (!checkSignature(algorithm, prepared.key, Buffer.from(`${headerPart}.${payloadPart}`), signature)) {
    throw invalid(`bad signature: the token was not signed by key "${keyId}" (or was altered)`);
  }

  // Only now, with the payload authenticated, act on its claims.
  const scope = payload.scope ?? '';
  if (typeof scope !== 'string') throw invalid('the "scope" claim is not a string');
  if (scope !== expectedScope) throw invalid(`scope mismatch: the token has ${JSON.stringify(scope)}, expected ${JSON.stringify(expectedScope)}`);
  const listed = signedFileList(payload.files);
  checkCoverage(files, listed);
  return { keyId, algorithm, signedFiles: listed.size };
}

function singleToken(bytes: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw invalid(`${SIGNATURES_FILE} is not valid JSON: ${describeThrown(error)}`);
  }
  if (!isObject(parsed)) throw invalid(`${SIGNATURES_FILE} is not a JSON object`);
  // opa build writes "plugin": "_default"; any other plugin is a custom format gatehouse cannot check.
  if (parsed.plugin !== undefined && parsed.plugin !== '' && parsed.plugin !== '_default') {
    throw invalid(`${SIGNATURES_FILE} names signature plugin ${JSON.stringify(parsed.plugin)}; only OPA's default format is supported`);
  }
  const list = parsed.signatures;
  if (!Array.isArray(list) || list.length !== 1 || typeof list[0] !== 'string') {
    throw invalid(`${SIGNATURES_FILE} must hold "signatures": [one JWT string] (found ${Array.isArray(list) ? `${list.length} entries` : typeof list})`);
  }
  return list[0];
}

function decodeJsonPart(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  const text = decodeBase64Url(part, what).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`the token ${what} is not valid JSON`);
  }
  if (!isObject(value)) throw invalid(`the token ${what} is not a JSON object`);
  return value;
}

/** Base64url without padding (RFC 7515 §2); Buffer.from would silently skip stray characters. */
function decodeBase64Url(part: string, what: string): Buffer {
  if (part === '' || !/^[A-Za-z0-9_-]*$/.test(part) || part.length % 4 === 1) throw invalid(`the token ${what} is not base64url`);
  return Buffer.from(part, 'base64url');
}

function acceptedAlgorithm(alg: unknown): SignatureAlgorithm {
  if (typeof alg !== 'string') throw invalid('the token header has no "alg"');
  if (alg.toLowerCase() === 'none') throw invalid('the token is unsigned ("alg": "none"), which is refused');
  if (/^HS\d+$/i.test(alg)) {
    throw invalid(`the token uses HMAC (${alg}), which is refused: bundles must be signed with a private key (RS*, PS*, ES*)`);
  }
  if (!specOf(alg)) throw invalid(`unsupported token algorithm ${JSON.stringify(alg)}`);
  return alg as SignatureAlgorithm;
}

/** Header `kid`, else the deprecated `keyid` claim (opa build without --claims-file), else the default. */
function chooseKeyId(header: Record<string, unknown>, payload: Record<string, unknown>, defaultKeyId: string | undefined): string {
  const kid = header.kid;
  const claim = payload.keyid;
  if (kid !== undefined && typeof kid !== 'string') throw invalid('the token header "kid" is not a string');
  if (claim !== undefined && typeof claim !== 'string') throw invalid('the "keyid" claim is not a string');
  if (kid && claim && kid !== claim) throw invalid(`the token header names key "${kid}" but its "keyid" claim names "${claim}"`);
  const keyId = kid || claim || defaultKeyId;
  if (!keyId) throw invalid('the token names no key ("kid") and no default key id is configured');
  return keyId;
}

function checkSignature(algorithm: SignatureAlgorithm, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  const spec = ALGORITHMS[algorithm];
  try {
    switch (spec.family) {
      case 'rsa':
        return verify(spec.hash, input, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'pss':
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the digest.
        return verify(spec.hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
      case 'ec':
        // RFC 7518 §3.4: R || S, each padded to the curve size (not DER).
        return signature.length === spec.signatureBytes && verify(spec.hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    return false;
  }
}

/** name → {hash, algorithm}; a malformed entry or a repeated name is refused. */
function signedFileList(files: unknown): Map<string, { hash: string; algorithm: string }> {
  if (!Array.isArray(files)) throw invalid('the token has no "files" list');
  const listed = new Map<string, { hash: string; algorithm: string }>();
  for (const entry of files) {
    if (!isObject(entry) || typeof entry.name !== 'string' || entry.name === '' || typeof entry.hash !== 'string') {
      throw invalid(`malformed entry in the signed file list: ${JSON.stringify(entry)}`);
    }
    if (typeof entry.algorithm !== 'string' || entry.algorithm === '') throw invalid(`no hashing algorithm for file "${entry.name}"`);
    if (listed.has(entry.name)) throw invalid(`file "${entry.name}" is listed twice in the signature`);
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(entry.hash)) throw invalid(`file "${entry.name}": signed digest is not hex`);
    listed.set(entry.name, { hash: entry.hash.toLowerCase(), algorithm: entry.algorithm });
  }
  return listed;
}

/** Exactly the bundle's files, each with its signed digest: nothing added, missing or modified. */
function checkCoverage(files: ReadonlyMap<string, Buffer>, listed: Map<string, { hash: string; algorithm: string }>): void {
  for (const name of files.keys()) {
    if (name !== SIGNATURES_FILE && !listed.has(name)) throw invalid(`file "${name}" is not covered by the signature (added after signing?)`);
  }
  for (const name of listed.keys()) {
    if (!files.has(name)) throw invalid(`file "${name}" is listed in the signature but missing from the bundle (truncated?)`);
  }
  for (const [name, signed] of listed) {
    const actual = hashBundleFile(name, files.get(name)!, signed.algorithm);
    if (actual !== signed.hash) {
      throw invalid(`file "${name}" was modified after signing (${signed.algorithm} ${actual.slice(0, 16)}…, signed ${signed.hash.slice(0, 16)}…)`);
    }
  }
}

export interface SigningOptions {
  keyId: string;
  privateKeyPem: string;
  algorithm: SignatureAlgorithm;
  scope?: string;
}

/**
 * `.signatures.json` bytes for `files` (every file but an existing .signatures.json), in the format
 * `opa build --signing-key` writes, so that OPA and gatehouse both accept it. For `gatehouse build`,
 * which adds its own files after `opa build`.
 */
export function signBundleFiles(files: ReadonlyMap<string, Buffer>, options: SigningOptions): Buffer {
  const spec = specOf(options.algorithm);
  if (!spec) throw new GatehouseError('usage', `unsupported signing algorithm ${JSON.stringify(options.algorithm)} (use one of ${SIGNATURE_ALGORITHMS.join(', ')})`);
  let key: KeyObject;
  try {
    key = createPrivateKey(options.privateKeyPem);
  } catch (error) {
    throw new GatehouseError('usage', `signing key is not a PEM private key: ${describeThrown(error)}`);
  }
  const problem = keyProblem(options.algorithm, key);
  if (problem) throw new GatehouseError('usage', `signing key: ${problem}`);

  const names = [...files.keys()].filter((n) => n !== SIGNATURES_FILE).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const list = names.map((name) => ({ name, hash: hashBundleFile(name, files.get(name)!, DEFAULT_HASH), algorithm: DEFAULT_HASH }));
  const header = { alg: options.algorithm, kid: options.keyId, typ: 'JWT' };
  const payload = { files: list, keyid: options.keyId, ...(options.scope ? { scope: options.scope } : {}) };
  const input = `${base64Url(header)}.${base64Url(payload)}`;
  const signature =
    spec.family === 'rsa'
      ? sign(spec.hash, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PADDING })
      : spec.family === 'pss'
        ? sign(spec.hash, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
        : sign(spec.hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return Buffer.from(JSON.stringify({ signatures: [`${input}.${signature.toString('base64url')}`], plugin: '_default' }, null, 1));
}

/** Why `key` cannot serve `algorithm`, or undefined. */
function keyProblem(algorithm: SignatureAlgorithm, key: KeyObject): string | undefined {
  const spec = specOf(algorithm);
  if (!spec) {
    const hint = /^HS/i.test(String(algorithm)) ? ' (HMAC is refused: use RS*, PS* or ES* keys)' : '';
    return `unsupported algorithm ${JSON.stringify(algorithm)}${hint}; use one of ${SIGNATURE_ALGORITHMS.join(', ')}`;
  }
  const type = key.asymmetricKeyType;
  if (spec.family === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (type !== 'ec' || curve !== spec.curve) return `${algorithm} needs an EC ${spec.curve} key, got ${type}${curve ? ` ${curve}` : ''}`;
    return undefined;
  }
  const rsaOk = type === 'rsa' || (spec.family === 'pss' && type === 'rsa-pss');
  if (!rsaOk) return `${algorithm} needs an RSA key, got ${type}`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) return `RSA key of ${bits} bits is too short (at least ${MIN_RSA_BITS})`;
  return undefined;
}

/** The algorithm's parameters; undefined for anything else, "toString" included (config is untyped at run time). */
function specOf(algorithm: string): (typeof ALGORITHMS)[SignatureAlgorithm] | undefined {
  return Object.hasOwn(ALGORITHMS, algorithm) ? ALGORITHMS[algorithm as SignatureAlgorithm] : undefined;
}

function base64Url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('bundle_invalid', `bundle signature: ${message}`);
}

function configInvalid(message: string): GatehouseError {
  return new GatehouseError('config_invalid', `bundle signature: ${message}`);
}
