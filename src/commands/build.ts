/** `gatehouse build`: compile Rego into the bundle gatehouse serves (see policy/build.ts). */
import { loadConfig } from '../config/load.js';
import { buildBundle, defaultOpa } from '../policy/build.js';
import { readFileSync } from 'node:fs';
import { GatehouseError, describeThrown } from '../errors.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm, type SigningOptions } from '../policy/signature.js';
import type { Io, Values } from './common.js';

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

/** Compiles --policies into the bundle --out; 0 when built (a refused builtin throws, exit 2). */
export function build(values: Values, io: Io): number {
  const optimize = values.optimize === undefined ? undefined : Number(values.optimize);
  if (optimize !== undefined && !(Number.isInteger(optimize) && optimize >= 0 && optimize <= 2)) {
    throw new GatehouseError('usage', `-O must be 0, 1 or 2 (OPA's optimisation levels), got ${JSON.stringify(values.optimize)}`);
  }
  const config = loadConfig({ flags: { bundle: 'unused', entrypoint: values.entrypoint as string | undefined }, env: {} });
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

