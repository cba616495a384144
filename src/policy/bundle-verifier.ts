/**
 * The bundle signature check a server's configuration asks for (OPA bundle signing), shared by the
 * single-process server and the cluster primary, which verifies bundles before handing them to workers.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { GatehouseError, describeThrown } from '../errors.js';
import type { BundleLimits } from './bundle.js';
import { prepareSignatureVerifier, refuseUnverifiedSignatures, type SignatureAlgorithm } from './signature.js';

/**
 * With bundle_verification_key_file, a verifier prepared once (a bad key fails start-up here);
 * without one, signed bundles are refused unless bundle_accept_unverified_signatures.
 */
export function bundleVerifier(config: Readonly<Config>): BundleLimits['verify'] {
  const file = config.bundle_verification_key_file;
  if (file === undefined) return config.bundle_accept_unverified_signatures ? undefined : refuseUnverifiedSignatures;
  let publicKeyPem: string;
  try {
    publicKeyPem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new GatehouseError('config_invalid', `bundle_verification_key_file ${file} cannot be read: ${describeThrown(error)}`);
  }
  const id = config.bundle_verification_key_id;
  return prepareSignatureVerifier({
    keys: { [id]: { algorithm: config.bundle_verification_algorithm as SignatureAlgorithm, publicKeyPem } },
    defaultKeyId: id,
    scope: config.bundle_verification_scope,
  });
}
