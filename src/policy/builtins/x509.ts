/**
 * crypto.x509.* as OPA v1.19.1's topdown/crypto.go: certificates given as PEM, base64 of PEM or
 * base64 of DER; chains verified the way Go's crypto/x509 Certificate.Verify does (first
 * certificate the root, the last the leaf, those between intermediates). Shapes: x509-cert.ts.
 */
import { goBase64Decode, goPemDecode, goPemEncode } from './go-encoding.js';
import type { BuiltinContext, RegoObject, RegoValue } from './types.js';
import { parseCertificates as parseDer, type ParsedCertificate } from './x509-cert.js';
import { x509KeyPair } from './x509-keypair.js';
import { goUrlText } from './x509-url.js';
import { verifyChain, verifyHostname, type VerifyOptions } from './x509-verify.js';

const BEGIN = '-----BEGIN';

/** getX509CertsFromString. @throws Error as Go errs. */
export function certificatesFromString(input: string): ParsedCertificate[] {
  if (input.startsWith(BEGIN)) return certificatesFromPem(Buffer.from(input, 'utf8'));
  const der = goBase64Decode(input, false);
  if (der.subarray(0, BEGIN.length).toString('latin1') === BEGIN) return certificatesFromPem(der);
  return parseDer(der);
}

function certificatesFromPem(data: Buffer): ParsedCertificate[] {
  const blocks: Buffer[] = [];
  let rest = data;
  while (rest.length > 0) {
    const { block, rest: next } = goPemDecode(rest);
    if (!block) break;
    if (block.type !== 'CERTIFICATE') throw new Error(`PEM block type is '${block.type}', expected CERTIFICATE`);
    blocks.push(block.bytes);
    rest = next;
  }
  return parseDer(Buffer.concat(blocks));
}

/** extendCertificates: the certificate plus URIStrings (its URI SANs as text). */
function extended(cert: ParsedCertificate): RegoObject {
  const json = Object.assign(Object.create(null) as RegoObject, cert.json);
  const uris = cert.json.URIs;
  json.URIStrings = Array.isArray(uris) ? uris.map((uri) => goUrlText(uri as RegoObject)) : null;
  return json;
}

export function parseCertificates(input: string): RegoValue {
  return certificatesFromString(input).map(extended);
}

const UNVERIFIED = (): RegoValue => [false, []];

const KEY_USAGES: Record<string, number> = {
  KeyUsageAny: 0, KeyUsageServerAuth: 1, KeyUsageClientAuth: 2, KeyUsageCodeSigning: 3, KeyUsageEmailProtection: 4,
  KeyUsageIPSECEndSystem: 5, KeyUsageIPSECTunnel: 6, KeyUsageIPSECUser: 7, KeyUsageTimeStamping: 8, KeyUsageOCSPSigning: 9,
  KeyUsageMicrosoftServerGatedCrypto: 10, KeyUsageNetscapeServerGatedCrypto: 11, KeyUsageMicrosoftCommercialCodeSigning: 12,
  KeyUsageMicrosoftKernelCodeSigning: 13,
};

/** extractVerifyOpts. @throws Error for an option OPA refuses. */
function verifyOptions(options: RegoObject): VerifyOptions {
  const opts: VerifyOptions = { dnsName: '', currentTimeNs: undefined, keyUsages: [] };
  for (const key of Object.keys(options).sort()) {
    const value = options[key];
    switch (key) {
      case 'DNSName':
        if (typeof value !== 'string') throw new Error(`'DNSName' should be a string`);
        opts.dnsName = value.replace(/^"+|"+$/g, '');
        break;
      case 'CurrentTime':
        if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error(`'CurrentTime' should be a number`);
        if (typeof value === 'number' && !Number.isInteger(value)) throw new Error(`'CurrentTime' should be a valid int64 number`);
        opts.currentTimeNs = BigInt(value);
        break;
      case 'MaxConstraintComparisons':
        if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error(`'MaxConstraintComparisons' should be a number`);
        break;
      case 'KeyUsages': {
        const items = Array.isArray(value) ? value : value instanceof Set ? [...value] : undefined;
        if (!items) throw new Error(`'KeyUsages' should be an Array or Set`);
        const invalid: string[] = [];
        for (const item of items) {
          if (typeof item !== 'string') continue;
          const name = item.replace(/^"+|"+$/g, '');
          const usage = KEY_USAGES[name];
          if (usage === undefined) invalid.push(name);
          else opts.keyUsages.push(usage);
        }
        if (invalid.length > 0) throw new Error(`invalid entries for 'KeyUsages' found: [${invalid.join(' ')}]`);
        break;
      }
      default:
        throw new Error('invalid key option');
    }
  }
  return opts;
}

/**
 * parse_and_verify_certificates(_with_options): [true, chain] with the chain leaf first, or
 * [false, []] when the input does not parse or does not verify. Without CurrentTime the
 * evaluation's clock decides, and a verified chain bounds the reuse of the decision by the first
 * NotAfter in it (ctx.validUntilNs), as io.jwt.decode_verify does with a token's exp.
 */
export function parseAndVerifyCertificates(ctx: BuiltinContext, input: string, options: RegoObject | undefined): RegoValue {
  let certs: ParsedCertificate[];
  try {
    certs = certificatesFromString(input);
  } catch {
    return UNVERIFIED();
  }
  const opts = options ? verifyOptions(options) : { dnsName: '', currentTimeNs: undefined, keyUsages: [] };
  if (certs.length < 2) return UNVERIFIED();
  const leaf = certs[certs.length - 1]!;
  if (opts.dnsName !== '' && !verifyHostname(leaf, opts.dnsName)) return UNVERIFIED();
  const clock = opts.currentTimeNs === undefined;
  const chain = verifyChain(leaf, [certs[0]!], certs.slice(1, -1), { ...opts, currentTimeNs: opts.currentTimeNs ?? ctx.nowNs() });
  if (!chain) return UNVERIFIED();
  if (clock) ctx.validUntilNs(chain.map(notAfterNs).reduce((a, b) => (a < b ? a : b)));
  return [true, chain.map((cert) => (options ? cert.json : extended(cert)))];
}

/** NotAfter in ns: Go's check fails once the clock is after it. */
function notAfterNs(cert: ParsedCertificate): bigint {
  return BigInt(Date.parse(cert.json.NotAfter as string)) * 1_000_000n;
}

/** parse_keypair (tls.X509KeyPair): PEM or base64 of PEM/DER for both. */
export function parseKeyPair(certInput: string, keyInput: string): RegoValue {
  const prefix = '-----BEGIN ';
  let certPem = certInput.startsWith(prefix) ? Buffer.from(certInput, 'utf8') : goBase64Decode(certInput, false);
  let keyPem = keyInput.startsWith(prefix) ? Buffer.from(keyInput, 'utf8') : goBase64Decode(keyInput, false);
  if (!certPem.toString('latin1').startsWith(prefix)) certPem = Buffer.from(goPemEncode('CERTIFICATE', certPem));
  if (!keyPem.toString('latin1').startsWith(BEGIN)) keyPem = Buffer.from(goPemEncode('PRIVATE KEY', keyPem));
  return x509KeyPair(certPem, keyPem);
}
