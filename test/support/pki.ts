/** Certificates for tests, made with the openssl CLI (the lab's PKI plus arbitrary leaves). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createCa, issueSvid } from '../../lab/pki.mjs';

export { createCa, issueSvid };

export interface Ca {
  cert: string;
  key: string;
}

/** A leaf signed by `ca` with arbitrary extensions (e.g. "subjectAltName=URI:...,DNS:localhost"). */
export function issueLeaf(dir: string, name: string, ca: Ca, ...extensions: string[]): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-CA', ca.cert, '-CAkey', ca.key, '-subj', `/CN=${name}`];
  for (const ext of extensions) args.push('-addext', ext);
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { cert, key };
}
