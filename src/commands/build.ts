/** `gatehouse build`: compile Rego into the bundle gatehouse serves (see policy/build.ts). */
import { loadConfig } from '../config/load.js';
import { buildBundle, defaultOpa } from '../policy/build.js';
import { readFileSync } from 'node:fs';
import { GatehouseError, describeThrown } from '../errors.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm, type SigningOptions } from '../policy/signature.js';
import { parse, type Io, type Values } from './common.js';

export const BUILD_USAGE = `Usage: gatehouse build [--policies DIR] [--out FILE] [--entrypoint PATH] [--opa BIN] [--revision REV]
                       [--v0-compatible] [--ignore PATTERN]... [-O LEVEL]
                       [--signing-key KEY.pem [--signing-alg RS256] [--signing-key-id default] [--scope S]]

Compiles the Rego and data files in DIR (default policies/; *_test.rego files are left out) into
a bundle (default build/bundle.tar.gz) with "opa build -t wasm", then loads the module as serve
does: a builtin gatehouse cannot evaluate fails the build, named with the reason ("gatehouse
builtins" lists what it evaluates). It also records which input fields the policy reads (for the
decision cache; see docs/decision-cache.md). --opa defaults to .tools/bin/opa, else opa on PATH.
--v0-compatible, --ignore and -O are passed to OPA as "opa build" takes them (Rego written before
OPA 1.0 needs --v0-compatible). print() output goes to the operational log with the decision id.
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
      'v0-compatible': { type: 'boolean' },
      ignore: { type: 'string', multiple: true },
      optimize: { type: 'string', short: 'O' },
    },
    BUILD_USAGE,
  );
  if (values.help) {
    io.stdout(`${BUILD_USAGE}\n`);
    return 0;
  }
  const optimize = values.optimize === undefined ? undefined : Number(values.optimize);
  if (optimize !== undefined && !(Number.isInteger(optimize) && optimize >= 0 && optimize <= 2)) {
    throw new GatehouseError('usage', `-O must be 0, 1 or 2 (OPA's optimisation levels), got ${JSON.stringify(values.optimize)}`);
  }
  const config = loadConfig({ flags: { bundle: 'unused', entrypoint: values.entrypoint }, env: {} });
  const result = buildBundle({
    opa: (values.opa as string | undefined) ?? defaultOpa(),
    policies: (values.policies as string | undefined) ?? 'policies',
    out: (values.out as string | undefined) ?? 'build/bundle.tar.gz',
    entrypoint: config.entrypoint,
    revision: values.revision as string | undefined,
    v0Compatible: values['v0-compatible'] === true,
    ignore: values.ignore as unknown as string[] | undefined,
    optimize,
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

