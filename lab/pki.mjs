// A throw-away PKI for the lab, made with the openssl CLI: a mesh CA and X.509-SVIDs.
//
// X.509-SVID rules followed (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md):
// a leaf carries exactly one URI SAN (its SPIFFE ID), basicConstraints CA:FALSE, keyUsage
// digitalSignature (never keyCertSign); a signing certificate has CA:TRUE and keyCertSign.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** @returns {string} the openssl binary, or throws naming the install command. */
export function findOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return 'openssl';
  } catch {
    throw new Error('openssl not found: run "./dev setup" (or: sudo apt-get install -y openssl)');
  }
}

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * A self-signed CA for one trust domain.
 * @param {string} dir output folder
 * @param {string} name file prefix
 * @param {string} trustDomain e.g. "mesh.local"
 * @returns {{cert: string, key: string, trustDomain: string}}
 */
export function createCa(dir, name, trustDomain) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(
    [
      'req', '-x509', ...KEY, '-keyout', key, '-out', cert, '-days', '2',
      '-subj', `/O=gatehouse lab/CN=${trustDomain} CA`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      // A SPIFFE signing certificate may carry the trust domain's ID.
      '-addext', `subjectAltName=URI:spiffe://${trustDomain}`,
    ],
    dir,
  );
  return { cert, key, trustDomain };
}

/**
 * An X.509-SVID for `spiffeId`, signed by `ca`, valid for a day.
 * @param {string} dir
 * @param {string} name file prefix
 * @param {string} spiffeId
 * @param {{cert: string, key: string}} ca
 * @returns {{cert: string, key: string, spiffeId: string}}
 */
export function issueSvid(dir, name, spiffeId, ca) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(
    [
      'req', '-x509', ...KEY, '-keyout', key, '-out', cert, '-days', '1',
      '-CA', ca.cert, '-CAkey', ca.key,
      '-set_serial', `0x${randomBytes(12).toString('hex')}`,
      '-subj', '/O=gatehouse lab',
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature,keyAgreement',
      '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
      '-addext', `subjectAltName=URI:${spiffeId}`,
    ],
    dir,
  );
  return { cert, key, spiffeId };
}
