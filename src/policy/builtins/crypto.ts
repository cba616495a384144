/**
 * Host builtins: crypto.* — digests and HMACs (hex, over the string's UTF-8 bytes) and X.509 /
 * private-key parsing, as OPA v1.19.1's topdown/crypto.go (shapes: x509-cert.ts, chains: x509-verify.ts,
 * keys: private-keys.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import { objectArg, stringArg } from './args.js';
import { macEqual } from './jws.js';
import { parsePrivateKeys, parseRsaPrivateKeyJwk } from './private-keys.js';
import { BuiltinError, type BuiltinFamily, type HostBuiltin, type RegoValue } from './types.js';
import { parseCertificateRequest } from './x509-csr.js';
import { parseAndVerifyCertificates, parseCertificates, parseKeyPair } from './x509.js';

function digest(name: string, algorithm: string): HostBuiltin {
  return { fn: (_ctx, input) => createHash(algorithm).update(stringArg(name, 1, input)).digest('hex') };
}

function hmac(name: string, algorithm: string): HostBuiltin {
  return {
    fn: (_ctx, message, key) => {
      const text = stringArg(name, 1, message);
      return createHmac(algorithm, stringArg(name, 2, key)).update(text).digest('hex');
    },
  };
}

/** Run `fn`; its errors become BuiltinErrors named after the builtin. */
function guarded(name: string, fn: () => RegoValue): RegoValue {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BuiltinError) throw err;
    throw new BuiltinError(name, err instanceof Error ? err.message : String(err));
  }
}

/** A parser builtin: errors become BuiltinErrors named after the builtin. */
function parser(name: string, fn: (...args: (RegoValue | undefined)[]) => RegoValue): HostBuiltin {
  return { fn: (_ctx, ...args) => guarded(name, () => fn(...args)) };
}

const CERTS = 'crypto.x509.parse_certificates';
const VERIFY_NOTE = 'Reads the evaluation\'s clock (unless CurrentTime is given), so gatehouse marks it nondeterministic where OPA does not; a cached decision is never reused past the first NotAfter of the verified chain.';
const VERIFY = 'crypto.x509.parse_and_verify_certificates';
const VERIFY_OPTS = 'crypto.x509.parse_and_verify_certificates_with_options';

export const cryptoBuiltins: BuiltinFamily = {
  'crypto.md5': digest('crypto.md5', 'md5'),
  'crypto.sha1': digest('crypto.sha1', 'sha1'),
  'crypto.sha256': digest('crypto.sha256', 'sha256'),
  'crypto.hmac.md5': hmac('crypto.hmac.md5', 'md5'),
  'crypto.hmac.sha1': hmac('crypto.hmac.sha1', 'sha1'),
  'crypto.hmac.sha256': hmac('crypto.hmac.sha256', 'sha256'),
  'crypto.hmac.sha512': hmac('crypto.hmac.sha512', 'sha512'),
  'crypto.hmac.equal': {
    fn: (_ctx, a, b) => {
      const first = stringArg('crypto.hmac.equal', 1, a);
      return macEqual(Buffer.from(first), Buffer.from(stringArg('crypto.hmac.equal', 2, b)));
    },
  },
  [CERTS]: parser(CERTS, (input) => parseCertificates(stringArg(CERTS, 1, input))),
  [VERIFY]: {
    fn: (ctx, input) => guarded(VERIFY, () => parseAndVerifyCertificates(ctx, stringArg(VERIFY, 1, input), undefined)),
    nondeterministic: true,
    note: VERIFY_NOTE,
  },
  [VERIFY_OPTS]: {
    fn: (ctx, input, options) => guarded(VERIFY_OPTS, () => {
      const text = stringArg(VERIFY_OPTS, 1, input);
      return parseAndVerifyCertificates(ctx, text, objectArg(VERIFY_OPTS, 2, options));
    }),
    nondeterministic: true,
    note: VERIFY_NOTE,
  },
  'crypto.x509.parse_certificate_request': parser('crypto.x509.parse_certificate_request', (input) => parseCertificateRequest(stringArg('crypto.x509.parse_certificate_request', 1, input))),
  'crypto.x509.parse_keypair': parser('crypto.x509.parse_keypair', (cert, key) => {
    const certText = stringArg('crypto.x509.parse_keypair', 1, cert);
    // OPA names the key "operand 1" too.
    return parseKeyPair(certText, stringArg('crypto.x509.parse_keypair', 1, key));
  }),
  'crypto.x509.parse_rsa_private_key': parser('crypto.x509.parse_rsa_private_key', (input) => parseRsaPrivateKeyJwk(stringArg('crypto.x509.parse_rsa_private_key', 1, input))),
  'crypto.parse_private_keys': parser('crypto.parse_private_keys', (input) => parsePrivateKeys(stringArg('crypto.parse_private_keys', 1, input))),
};
