/** `gatehouse build`: compile Rego into the bundle gatehouse serves (see policy/build.ts). */
import { loadConfig } from '../config/load.js';
import { buildBundle, defaultOpa } from '../policy/build.js';
import { readFileSync } from 'node:fs';
import { GatehouseError, describeThrown } from '../errors.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm, type SigningOptions } from '../policy/signature.js';
import { parse, type Io, type Values } from './common.js';

export const BUILD_USAGE = `Usage: gatehouse build [--policies DIR] [--out FILE] [--entrypoint PATH] [--opa BIN] [--revision REV]
                       [--signing-key KEY.pem [--signing-alg RS256] [--signing-key-id default] [--scope S]]

Compiles the Rego and data files in DIR (default policies/; *_test.rego files are left out) into
a bundle (default build/bundle.tar.gz) with "opa build -t wasm", accepting only builtins that
gatehouse's Wasm runtime provides, and records which input fields the policy reads (for the
decision cache; see docs/decision-cache.md). --opa defaults to .tools/bin/opa, else opa on PATH.
The revision defaults to a hash of the sources. With --signing-key, the finished bundle is signed
the way "opa build --signing-key" signs (a .signatures.json JWT listing every file's hash), so
gatehouse (bundle_verification_key_file) and OPA both verify it.`;

function signingOptions(values: Values): SigningOptions | undefined {
  const keyFile = values['signing-key'];
  if (typeof keyFile !== 'string') return undefined;
  let privateKeyPem: string;
  try {
    privateKeyPem = readFileSync(keyFile, 'utf8');
  } catch (error) {
    throw new GatehouseError('usage', `--signing-key ${keyFile} cannot be read: ${describeThrown(error)}`);
  }
  const algorithm = (values['signing-alg'] ?? 'RS256') as string;
  if (!SIGNATURE_ALGORITHMS.includes(algorithm as SignatureAlgorithm)) {
    throw new GatehouseError('usage', `--signing-alg must be one of ${SIGNATURE_ALGORITHMS.join(', ')}, got ${JSON.stringify(algorithm)}`);
  }
  return {
    keyId: (values['signing-key-id'] as string | undefined) ?? 'default',
    privateKeyPem,
    algorithm: algorithm as SignatureAlgorithm,
    scope: values.scope as string | undefined,
  };
}

export function build(args: string[], io: Io): number {
  const { values } = parse(
    args,
    {
      policies: { type: 'string' },
      out: { type: 'string' },
      entrypoint: { type: 'string' },
      opa: { type: 'string' },
      revision: { type: 'string' },
      'signing-key': { type: 'string' },
      'signing-alg': { type: 'string' },
      'signing-key-id': { type: 'string' },
      scope: { type: 'string' },
    },
    BUILD_USAGE,
  );
  if (values.help) {
    io.stdout(`${BUILD_USAGE}\n`);
    return 0;
  }
  const config = loadConfig({ flags: { bundle: 'unused', entrypoint: values.entrypoint }, env: {} });
  const result = buildBundle({
    opa: (values.opa as string | undefined) ?? defaultOpa(),
    policies: (values.policies as string | undefined) ?? 'policies',
    out: (values.out as string | undefined) ?? 'build/bundle.tar.gz',
    entrypoint: config.entrypoint,
    revision: values.revision as string | undefined,
    signing: signingOptions(values),
    log: (line) => io.stderr(`${line}\n`),
  });
  const { analysis } = result;
  const cacheNote = analysis.uncacheable
    ? `decision cache: off (${analysis.uncacheable})`
    : analysis.nondeterministic.length > 0
      ? `decision cache: off unless decision_cache_nondeterministic_ttl_ms is set (calls ${analysis.nondeterministic.join(', ')})`
      : `decision cache: keyed on ${analysis.fields.map((f) => `input.${f.join('.')}`).join(', ') || 'nothing (the decision does not depend on input)'}`;
  io.stderr(`${cacheNote}\n`);
  return 0;
}

