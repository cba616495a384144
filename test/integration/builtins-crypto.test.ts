/**
 * crypto.* against OPA: digests and HMACs over generated strings, and the X.509/private-key parsers
 * over certificates, chains, requests and keys made by openssl (RSA, P-256/384/521, Ed25519; SANs
 * of every kind, key usages, name constraints, policies, CRL and AIA URLs), evaluated by
 * `opa eval` in one run and by gatehouse's host functions; the results must be identical.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { callHost, mismatches, opaEvalCalls, plain, seeded, testContext, wasmEvalCalls } from '../support/jose-fixtures.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

interface Call {
  name: string;
  args: RegoValue[];
  label: string;
}

const KEYS: Record<string, string[]> = {
  rsa: ['-newkey', 'rsa:2048'],
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ed: ['-newkey', 'ed25519'],
};

interface Issued {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** A certificate made by openssl: self-signed, or signed by `ca`. */
function issue(dir: string, name: string, key: string, subject: string, extensions: string[], ca?: Issued): Issued {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const args = ['req', '-x509', ...KEYS[key]!, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '3', '-subj', subject, '-utf8'];
  if (ca) args.push('-CA', ca.certFile, '-CAkey', ca.keyFile);
  for (const ext of extensions) args.push('-addext', ext);
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
const derBase64 = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');

describe.skipIf(tool.skip)('crypto.* against opa eval', () => {
  const calls: Call[] = [];
  let oracle: Map<number, unknown>;
  let wasm: Map<number, unknown>;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-crypto-');
    const add = (label: string, name: string, ...args: RegoValue[]) => calls.push({ label, name, args });

    for (const text of ['', 'hello', 'ünïcødé ✓', 'a'.repeat(1000), '\u0000\n']) {
      for (const fn of ['md5', 'sha1', 'sha256']) add(`${fn} ${text.slice(0, 10)}`, `crypto.${fn}`, text);
      for (const fn of ['md5', 'sha1', 'sha256', 'sha512']) add(`hmac.${fn} ${text.slice(0, 10)}`, `crypto.hmac.${fn}`, text, `key-${text}`);
      add(`hmac.equal ${text.slice(0, 10)}`, 'crypto.hmac.equal', text, text);
      add(`hmac.equal differs ${text.slice(0, 10)}`, 'crypto.hmac.equal', text, `${text}x`);
    }

    const root = issue(dir, 'root', 'p256', '/C=US/O=Acme/CN=Root CA', ['basicConstraints=critical,CA:TRUE,pathlen:1', 'keyUsage=critical,keyCertSign,cRLSign']);
    const inter = issue(dir, 'inter', 'rsa', '/O=Acme/OU=Mesh/CN=Intermediate', [...CA_EXT], root);
    const leaf = issue(dir, 'leaf', 'p384', '/CN=svc.example/O=Acme/emailAddress=ops@example.com', [
      'subjectAltName=DNS:svc.example,DNS:*.svc.example,URI:spiffe://prod.example/ns/shop/sa/checkout,email:a@b.c,IP:10.1.2.3,IP:2001:db8::1,URI:https://user@h.example:8443/p%20a?q=1#frag',
      'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth,clientAuth,1.2.3.4', 'basicConstraints=critical,CA:FALSE',
      'crlDistributionPoints=URI:http://crl.example/ca.crl', 'authorityInfoAccess=OCSP;URI:http://ocsp.example,caIssuers;URI:http://ca.example/ca.crt',
      'certificatePolicies=2.23.140.1.2.1,1.3.6.1.4.1.99.1',
    ], inter);
    const clientOnly = issue(dir, 'client', 'ed', '/CN=client', ['extendedKeyUsage=clientAuth'], inter);
    const constrained = issue(dir, 'constrained', 'p521', '/CN=Constrained CA', [...CA_EXT, 'nameConstraints=critical,permitted;DNS:.example,permitted;IP:10.0.0.0/255.0.0.0,excluded;email:bad.example,permitted;URI:.example', 'policyConstraints=requireExplicitPolicy:0,inhibitPolicyMapping:1', 'inhibitAnyPolicy=2', 'policyMappings=1.2.3.4:1.2.3.5'], root);
    const underConstrained = issue(dir, 'under', 'p256', '/CN=under', ['subjectAltName=DNS:ok.example'], constrained);
    const unicode = issue(dir, 'unicode', 'rsa', '/CN=Zoë Ünicode/O=Ąćme/O=Second Org/L=Kraków/ST=Mazowieckie/street=1 Main St/postalCode=00-001/serialNumber=42/OU=a/OU=b', ['subjectAltName=URI:urn:uuid:1234,URI:spiffe://td/a%2Fb', 'unknownCritical=critical,ASN1:NULL'.replace('unknownCritical', '1.2.3.4.5')]);
    const v1like = issue(dir, 'plain', 'ed', '/CN=plain', []);
    // Name constraints: leaves inside and outside a constrained CA's permitted/excluded names.
    const nc = issue(dir, 'nc', 'p256', '/CN=nc', [...CA_EXT, 'nameConstraints=critical,permitted;DNS:.example,excluded;DNS:bad.example,permitted;IP:10.0.0.0/255.0.0.0,permitted;email:example,permitted;URI:.example,excluded;IP:10.9.0.0/255.255.0.0'], root);
    const sans: Record<string, string> = {
      ok: 'DNS:ok.example', apex: 'DNS:example', bad: 'DNS:bad.example', sub: 'DNS:x.bad.example', wildcard: 'DNS:*.example', evil: 'DNS:evil.com',
      ip: 'IP:10.1.1.1', ipExcluded: 'IP:10.9.1.1', ipOut: 'IP:192.168.1.1', ip6: 'IP:2001:db8::1', email: 'email:a@example', emailOut: 'email:a@other.com',
      uri: 'URI:https://a.example/x', uriPort: 'URI:https://a.example:8443/x', uriOut: 'URI:https://other.com/', uriIp: 'URI:https://10.0.0.1/',
      spiffe: 'URI:spiffe://td.example/x', mixed: 'DNS:ok.example,DNS:evil.com', upper: 'DNS:OK.EXAMPLE',
    };
    for (const [label, san] of Object.entries(sans)) {
      const leafUnderNc = issue(dir, `nc-${label}`, 'p256', `/CN=${label}`, [`subjectAltName=${san}`], nc);
      add(`name constraints ${label}`, 'crypto.x509.parse_and_verify_certificates_with_options', `${root.cert}${nc.cert}${leafUnderNc.cert}`, { KeyUsages: ['KeyUsageAny'] });
    }
    const cnOnly = issue(dir, 'nc-cn', 'p256', '/CN=evil.com', [], nc);
    add('name constraints cn only', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${nc.cert}${cnOnly.cert}`);
    // Policies: a CA that requires an explicit policy, over leaves without / with one.
    const explicit = issue(dir, 'explicit', 'p256', '/CN=explicit', [...CA_EXT, 'policyConstraints=requireExplicitPolicy:1', 'certificatePolicies=2.23.140.1.2.1'], root);
    const noPolicy = issue(dir, 'no-policy', 'p256', '/CN=no-policy', ['subjectAltName=DNS:x.example'], explicit);
    add('explicit policy missing', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${explicit.cert}${noPolicy.cert}`);
    // The policy graph: CAs requiring an explicit policy, over leaves with matching, other, mapped and any policies.
    const policyCa = (label: string, ...exts: string[]) => issue(dir, `policy-ca-${label}`, 'p256', `/CN=policy ${label}`, [...CA_EXT, ...exts], root);
    const policyLeaf = (label: string, ca: Issued, policies?: string) => issue(dir, `policy-leaf-${label}`, 'p256', `/CN=${label}`, ['subjectAltName=DNS:x.example', ...(policies ? [`certificatePolicies=${policies}`] : [])], ca);
    const strict = policyCa('strict', 'policyConstraints=requireExplicitPolicy:0', 'certificatePolicies=1.2.3.4');
    const anyCa = policyCa('any', 'policyConstraints=requireExplicitPolicy:0', 'certificatePolicies=2.5.29.32.0');
    const mapping = policyCa('mapping', 'policyConstraints=requireExplicitPolicy:0', 'certificatePolicies=1.2.3.4', 'policyMappings=1.2.3.4:1.2.3.5');
    const inhibitAny = policyCa('inhibit-any', 'policyConstraints=requireExplicitPolicy:0', 'certificatePolicies=2.5.29.32.0', 'inhibitAnyPolicy=0');
    const inhibitMapping = policyCa('inhibit-mapping', 'policyConstraints=requireExplicitPolicy:0,inhibitPolicyMapping:0', 'certificatePolicies=1.2.3.4', 'policyMappings=1.2.3.4:1.2.3.5');
    for (const [label, ca, policies] of [
      ['strict same', strict, '1.2.3.4'], ['strict other', strict, '1.2.3.5'], ['strict both', strict, '1.2.3.5,1.2.3.4'], ['strict any', strict, '2.5.29.32.0'],
      ['any ca specific', anyCa, '1.2.3.9'], ['any ca any', anyCa, '2.5.29.32.0'], ['mapped to', mapping, '1.2.3.5'], ['mapped from', mapping, '1.2.3.4'],
      ['inhibit any, any', inhibitAny, '2.5.29.32.0'], ['inhibit any, specific', inhibitAny, '1.2.3.4'], ['inhibit mapping, mapped', inhibitMapping, '1.2.3.5'],
      ['inhibit mapping, original', inhibitMapping, '1.2.3.4'],
    ] as [string, Issued, string][]) {
      add(`policy graph ${label}`, 'crypto.x509.parse_and_verify_certificates', `${root.cert}${ca.cert}${policyLeaf(label.replace(/[ ,]+/g, '-'), ca, policies).cert}`);
    }
    add('policy graph no leaf policies', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${strict.cert}${policyLeaf('none', strict).cert}`);
    const mapsAny = issue(dir, 'maps-any', 'p256', '/CN=maps-any', [...CA_EXT, 'policyMappings=2.5.29.32.0:1.2.3.4', 'certificatePolicies=2.5.29.32.0'], root);
    const underMapsAny = issue(dir, 'under-maps-any', 'p256', '/CN=under', ['subjectAltName=DNS:x.example'], mapsAny);
    add('policy mapping of anyPolicy', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${mapsAny.cert}${underMapsAny.cert}`);
    // A v1 certificate (no extensions) issued by openssl x509 -req.
    const v1Key = path.join(dir, 'v1.key');
    const v1Csr = path.join(dir, 'v1.csr');
    const v1Cert = path.join(dir, 'v1.crt');
    execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', v1Key, '-subj', '/CN=v1/O=Old', '-out', v1Csr], { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', v1Csr, '-CA', inter.certFile, '-CAkey', inter.keyFile, '-CAcreateserial', '-days', '2', '-out', v1Cert], { stdio: 'ignore' });
    add('parse v1', 'crypto.x509.parse_certificates', readFileSync(v1Cert, 'utf8'));
    add('verify v1 leaf', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${inter.cert}${readFileSync(v1Cert, 'utf8')}`);
    // Signature algorithms, key types and name encodings openssl can make.
    const raw = (name: string, args: string[]) => {
      const file = path.join(dir, `${name}.crt`);
      execFileSync('openssl', ['req', '-x509', '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', file, '-days', '2', ...args], { stdio: 'ignore' });
      return readFileSync(file, 'utf8');
    };
    writeFileSync(path.join(dir, 'sans.cnf'), '[req]\ndistinguished_name = dn\n[dn]\n[dir_sect]\nCN = Dir Name\nO = Dir Org\n');
    const dsaParams = path.join(dir, 'dsa-params.pem');
    execFileSync('openssl', ['dsaparam', '-out', dsaParams, '2048'], { stdio: 'ignore' });
    const extra: Record<string, string> = {
      pss32: raw('pss32', ['-newkey', 'rsa:2048', '-subj', '/CN=pss', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32']),
      pssMax: raw('pssmax', ['-newkey', 'rsa:2048', '-subj', '/CN=pss', '-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:max']),
      sha1: raw('sha1', ['-newkey', 'rsa:2048', '-subj', '/CN=sha1', '-sha1', '-addext', 'basicConstraints=critical,CA:TRUE']),
      sha512: raw('sha512', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521', '-subj', '/CN=sha512', '-sha512']),
      dsa: raw('dsa', ['-newkey', `dsa:${dsaParams}`, '-subj', '/CN=dsa', '-sha256']),
      multiRdn: raw('multirdn', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-multivalue-rdn', '-subj', '/CN=a+O=b/OU=c+OU=d/DC=example/UID=u1/title=T', '-set_serial', '0']),
      negative: raw('negative', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=neg', '-set_serial', '-5']),
      sans: raw('sans', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=sans', '-addext', 'subjectAltName=IP:::ffff:1.2.3.4,IP:::,IP:fe80::1:0:0:1,URI:HTTPS://User:Pw@Host.Example/a/../b?x,URI:mailto:a@b.c,URI:spiffe://td/ns/a%20b,URI:file:///etc/x,URI:urn:a:b:c,DNS:*.x.example,DNS:xn--bcher-kva.example,otherName:1.2.3.4;UTF8:hello,dirName:dir_sect,RID:1.2.3', '-config', path.join(dir, 'sans.cnf')]),
    };
    for (const [label, pem] of Object.entries(extra)) add(`parse ${label}`, 'crypto.x509.parse_certificates', pem);
    // Hand-made DER for what openssl will not write: Go's parser accepts or refuses it, we must agree.
    for (const [label, der] of [...handMadeCertificates(), ...randomCertificates(300, 77)]) add(`hand-made ${label}`, 'crypto.x509.parse_certificates', der.toString('base64'));
    // Seeded random chains (root, 0-2 intermediates, leaf) with random CA flags, path lengths, key
    // usages and EKUs, verified with random KeyUsages, DNSName and CurrentTime options.
    const random = seeded(4242);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const caExtensions = () => [
      pick(['basicConstraints=critical,CA:TRUE', 'basicConstraints=critical,CA:TRUE,pathlen:0', 'basicConstraints=critical,CA:TRUE,pathlen:1', 'basicConstraints=critical,CA:FALSE', 'basicConstraints=CA:TRUE']),
      ...(random() < 0.7 ? [pick(['keyUsage=critical,keyCertSign,cRLSign', 'keyUsage=critical,digitalSignature', 'keyUsage=keyCertSign'])] : []),
      ...(random() < 0.3 ? [pick(['extendedKeyUsage=serverAuth', 'extendedKeyUsage=clientAuth', 'extendedKeyUsage=anyExtendedKeyUsage', 'extendedKeyUsage=codeSigning,serverAuth'])] : []),
    ];
    for (let i = 0; i < 30; i++) {
      const chainRoot = issue(dir, `rc-root-${i}`, 'p256', `/CN=random root ${i}`, caExtensions());
      const chainCerts = [chainRoot];
      for (let j = 0; j < Math.floor(random() * 3); j++) chainCerts.push(issue(dir, `rc-int-${i}-${j}`, 'p256', `/CN=random int ${i} ${j}`, caExtensions(), chainCerts[chainCerts.length - 1]));
      const leafExt = [`subjectAltName=${pick(['DNS:svc.example', 'DNS:*.example', 'IP:10.0.0.1', 'URI:spiffe://td/x', 'DNS:a.example,DNS:b.example'])}`,
        ...(random() < 0.5 ? [pick(['extendedKeyUsage=serverAuth', 'extendedKeyUsage=clientAuth', 'extendedKeyUsage=serverAuth,clientAuth', 'extendedKeyUsage=1.2.3.4'])] : []),
        ...(random() < 0.3 ? ['basicConstraints=critical,CA:TRUE'] : [])];
      chainCerts.push(issue(dir, `rc-leaf-${i}`, 'p256', `/CN=random leaf ${i}`, leafExt, chainCerts[chainCerts.length - 1]));
      const pem = chainCerts.map((c) => c.cert).join('');
      add(`random chain ${i}`, 'crypto.x509.parse_and_verify_certificates', pem);
      const options = Object.fromEntries(Object.entries({
        KeyUsages: random() < 0.6 ? [pick(['KeyUsageServerAuth', 'KeyUsageClientAuth', 'KeyUsageAny', 'KeyUsageCodeSigning'])] : undefined,
        DNSName: random() < 0.4 ? pick(['svc.example', 'x.example', '10.0.0.1', 'b.example']) : undefined,
        CurrentTime: random() < 0.2 ? pick([0, 4_102_444_800_000_000_000]) : undefined,
      }).filter(([, v]) => v !== undefined)) as Record<string, RegoValue>;
      add(`random chain ${i} with options`, 'crypto.x509.parse_and_verify_certificates_with_options', pem, options);
    }
    // Many certificates of one subject and key (each a possible parent of the others): path
    // building must stop where Go's does (100 candidate checks) and give Go's first chain.
    const loopKey = path.join(dir, 'loop.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', loopKey], { stdio: 'ignore' });
    const sameKey = (name: string, ...exts: string[]) => {
      const file = path.join(dir, `${name}.crt`);
      execFileSync('openssl', ['req', '-x509', '-key', loopKey, '-out', file, '-days', '2', '-subj', '/CN=loop', ...exts.flatMap((e) => ['-addext', e])], { stdio: 'ignore' });
      return readFileSync(file, 'utf8');
    };
    const loopRoot = sameKey('loop-root', ...CA_EXT);
    const loopInts = Array.from({ length: 9 }, (_, i) => sameKey(`loop-int-${i}`, ...CA_EXT, `subjectAltName=DNS:i${i}.example`));
    const loopLeaf = sameKey('loop-leaf', `subjectAltName=DNS:leaf.example`, 'basicConstraints=critical,CA:FALSE');
    add('path building limit', 'crypto.x509.parse_and_verify_certificates_with_options', `${loopRoot}${loopInts.join('')}${loopLeaf}`, { KeyUsages: ['KeyUsageAny'] });
    add('path building limit, no root', 'crypto.x509.parse_and_verify_certificates_with_options', `${sameKey('other-root', ...CA_EXT, 'subjectAltName=DNS:other.example').replace(/./g, (c) => c)}${loopInts.join('')}${loopLeaf}`, { KeyUsages: ['KeyUsageAny'] });
    add('verify self-signed sha1 chain', 'crypto.x509.parse_and_verify_certificates', `${extra.sha1}${extra.sha1}`);
    add('pem with headers', 'crypto.x509.parse_certificates', root.cert.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'));
    add('pem junk between', 'crypto.x509.parse_certificates', `${root.cert}junk\n${inter.cert}`);
    add('pem private key block', 'crypto.x509.parse_certificates', `${root.cert}${inter.key}`);

    const certs = { root, inter, leaf, clientOnly, constrained, underConstrained, unicode, v1like };
    for (const [label, c] of Object.entries(certs)) {
      add(`parse ${label}`, 'crypto.x509.parse_certificates', c.cert);
      add(`parse der ${label}`, 'crypto.x509.parse_certificates', derBase64(c.cert));
      add(`parse b64 pem ${label}`, 'crypto.x509.parse_certificates', Buffer.from(c.cert).toString('base64'));
    }
    add('parse bundle', 'crypto.x509.parse_certificates', `${root.cert}${inter.cert}${leaf.cert}`);
    add('parse der bundle', 'crypto.x509.parse_certificates', Buffer.concat([root.cert, inter.cert].map((p) => Buffer.from(derBase64(p), 'base64'))).toString('base64'));
    add('parse key as cert', 'crypto.x509.parse_certificates', leaf.key);
    add('parse junk', 'crypto.x509.parse_certificates', 'not base64!');
    add('parse empty', 'crypto.x509.parse_certificates', '');
    add('parse truncated', 'crypto.x509.parse_certificates', derBase64(leaf.cert).slice(0, 200));

    const chain = `${root.cert}${inter.cert}${leaf.cert}`;
    add('verify chain', 'crypto.x509.parse_and_verify_certificates', chain);
    add('verify wrong order', 'crypto.x509.parse_and_verify_certificates', `${leaf.cert}${inter.cert}${root.cert}`);
    add('verify missing intermediate', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${leaf.cert}`);
    add('verify one cert', 'crypto.x509.parse_and_verify_certificates', root.cert);
    add('verify client-only leaf', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${inter.cert}${clientOnly.cert}`);
    add('verify junk', 'crypto.x509.parse_and_verify_certificates', 'junk');
    add('verify pathlen', 'crypto.x509.parse_and_verify_certificates', `${root.cert}${constrained.cert}${underConstrained.cert}`);
    const opts = (o: Record<string, RegoValue>) => o;
    const future = 4_102_444_800_000_000_000; // 2100-01-01
    for (const [label, o] of [
      ['empty', {}], ['client usage', { KeyUsages: ['KeyUsageClientAuth'] }], ['any usage', { KeyUsages: ['KeyUsageAny'] }],
      ['code signing', { KeyUsages: ['KeyUsageCodeSigning'] }], ['bad usage', { KeyUsages: ['Nope'] }], ['dns ok', { DNSName: 'svc.example' }],
      ['dns wildcard', { DNSName: 'a.svc.example' }], ['dns bad', { DNSName: 'other.example' }], ['ip', { DNSName: '10.1.2.3' }],
      ['future', { CurrentTime: future }], ['past', { CurrentTime: 0 }], ['bad key', { Foo: 1 }], ['bad time', { CurrentTime: 'x' }],
      ['max comparisons', { MaxConstraintComparisons: 10 }], ['usage set', { KeyUsages: new Set(['KeyUsageServerAuth']) }],
      ['dns upper', { DNSName: 'SVC.Example' }], ['dns trailing dot', { DNSName: 'svc.example.' }], ['dns wildcard input', { DNSName: '*.svc.example' }],
      ['dns two labels deep', { DNSName: 'a.b.svc.example' }], ['dns quoted', { DNSName: '"svc.example"' }], ['ip bracketed', { DNSName: '[10.1.2.3]' }],
      ['ip mapped', { DNSName: '::ffff:10.1.2.3' }], ['ipv6', { DNSName: '2001:db8::1' }], ['ipv6 long', { DNSName: '2001:0db8:0:0:0:0:0:1' }],
      ['dns underscore', { DNSName: '_svc.example' }], ['dns empty label', { DNSName: 'svc..example' }], ['dns leading dash', { DNSName: '-x.svc.example' }],
    ] as [string, Record<string, RegoValue>][]) {
      add(`verify opts ${label}`, 'crypto.x509.parse_and_verify_certificates_with_options', chain, opts(o));
      add(`verify opts client ${label}`, 'crypto.x509.parse_and_verify_certificates_with_options', `${root.cert}${inter.cert}${clientOnly.cert}`, opts(o));
    }
    add('verify opts junk', 'crypto.x509.parse_and_verify_certificates_with_options', 'junk', { Foo: 1 });

    for (const [label, c] of Object.entries({ leaf, inter, clientOnly, unicode })) {
      add(`keypair ${label}`, 'crypto.x509.parse_keypair', c.cert, c.key);
      add(`keypair b64 ${label}`, 'crypto.x509.parse_keypair', Buffer.from(c.cert).toString('base64'), Buffer.from(c.key).toString('base64'));
    }
    add('keypair mismatch', 'crypto.x509.parse_keypair', leaf.cert, inter.key);
    add('keypair type mismatch', 'crypto.x509.parse_keypair', clientOnly.cert, leaf.key);
    add('keypair chain', 'crypto.x509.parse_keypair', `${leaf.cert}${inter.cert}${root.cert}`, leaf.key);
    add('keypair junk around', 'crypto.x509.parse_keypair', `junk\n${leaf.cert}junk`, `junk\n${leaf.key}`);
    add('keypair der', 'crypto.x509.parse_keypair', derBase64(leaf.cert), derBase64(leaf.key));
    add('keypair key first', 'crypto.x509.parse_keypair', `${leaf.key}${leaf.cert}`, `${leaf.cert}${leaf.key}`);
    add('keypair only keys', 'crypto.x509.parse_keypair', leaf.key, leaf.key);
    add('keypair no key', 'crypto.x509.parse_keypair', leaf.cert, leaf.cert);

    const pkcs1 = execFileSync('openssl', ['rsa', '-in', inter.keyFile, '-traditional'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const sec1 = execFileSync('openssl', ['ec', '-in', leaf.keyFile], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    add('keypair pkcs1', 'crypto.x509.parse_keypair', inter.cert, execFileSync('openssl', ['rsa', '-in', inter.keyFile, '-traditional'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    add('keypair sec1', 'crypto.x509.parse_keypair', leaf.cert, execFileSync('openssl', ['ec', '-in', leaf.keyFile], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    const keySets: [string, string][] = [
      ['pkcs8 rsa', inter.key], ['pkcs1 rsa', pkcs1], ['pkcs8 ec', leaf.key], ['sec1 ec', sec1], ['ed25519', clientOnly.key],
      ['all', `${pkcs1}${sec1}${clientOnly.key}${root.cert}`], ['b64', Buffer.from(pkcs1).toString('base64')], ['empty', ''],
      ['cert only', root.cert], ['junk', 'junk'],
      ['x25519', generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
      ['ed448', generateKeyPairSync('ed448').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
      ['secp256k1 sec1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString()],
      ['p224 pkcs8', generateKeyPairSync('ec', { namedCurve: 'P-224' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
      ['encrypted pkcs1', generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pw' }).toString()],
      ['public key', root.cert.replace(/CERTIFICATE/g, 'PUBLIC KEY')],
      ['rsa 512', generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()],
    ];
    for (const [label, text] of keySets) {
      add(`private keys ${label}`, 'crypto.parse_private_keys', text);
      add(`rsa private key ${label}`, 'crypto.x509.parse_rsa_private_key', text);
    }

    const csrFile = path.join(dir, 'r.csr');
    execFileSync('openssl', ['req', '-new', '-key', leaf.keyFile, '-subj', '/CN=csr/O=Acme', '-addext', 'subjectAltName=DNS:a.example,URI:spiffe://x/y,IP:::1,email:x@y.z', '-addext', 'keyUsage=digitalSignature', '-out', csrFile], { stdio: 'ignore' });
    const csr = readFileSync(csrFile, 'utf8');
    add('csr', 'crypto.x509.parse_certificate_request', csr);
    add('csr b64 der', 'crypto.x509.parse_certificate_request', derBase64(csr));
    add('csr b64 pem', 'crypto.x509.parse_certificate_request', Buffer.from(csr).toString('base64'));
    add('csr cert', 'crypto.x509.parse_certificate_request', Buffer.from(root.cert).toString('base64'));
    add('csr junk', 'crypto.x509.parse_certificate_request', 'junk');
    const csr2File = path.join(dir, 'r2.csr');
    const csrConfig = path.join(dir, 'csr.cnf');
    writeFileSync(csrConfig, '[req]\ndistinguished_name = dn\nattributes = attrs\n[dn]\n[attrs]\nchallengePassword = secret123\n');
    execFileSync('openssl', ['req', '-new', '-key', inter.keyFile, '-subj', '/CN=csr2', '-config', csrConfig, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'subjectAltName=DNS:x.example', '-out', csr2File], { stdio: 'ignore' });
    add('csr critical extension and challenge password', 'crypto.x509.parse_certificate_request', readFileSync(csr2File, 'utf8'));
    writeFileSync(path.join(dir, 'done'), '');

    oracle = opaEvalCalls(tool.opa, dir, calls);
    wasm = await wasmEvalCalls(tool.opa, dir, calls, () => BigInt(Date.now()) * 1_000_000n);
  }, 120_000);

  it('gives OPA\'s result for every call', () => {
    const ctx = testContext(BigInt(Date.now()) * 1_000_000n);
    expect(mismatches(calls, (i) => plain(callHost(calls[i]!.name, calls[i]!.args, ctx)), oracle)).toEqual([]);
    const defined = calls.filter((_c, i) => oracle.has(i)).length;
    expect(defined).toBeGreaterThan(calls.length / 2);
  });

  it('gives OPA\'s result end to end, through a policy compiled to Wasm and gatehouse\'s runtime', () => {
    expect(wasm.size).toBe(oracle.size);
    expect(mismatches(calls, (i) => wasm.get(i), oracle)).toEqual([]);
  });
});

/** DER TLV. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : body.length < 0x100 ? Buffer.from([0x81, body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const SEQ = 0x30;
const oidDer = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const ECDSA_SHA256 = tlv(SEQ, oidDer('2a8648ce3d040302'));
const name = (...atvs: [string, number, Buffer][]) => tlv(SEQ, ...atvs.map(([type, tag, value]) => tlv(0x31, tlv(SEQ, oidDer(type), tlv(tag, value)))));
const CN = '550403';
const ext = (oidHex: string, value: Buffer, critical = false) => tlv(SEQ, oidDer(oidHex), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
const san = (...names: [number, string][]) => ext('551d11', tlv(SEQ, ...names.map(([tag, text]) => tlv(0x80 | tag, Buffer.from(text)))));

const SPKI = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });

interface CertFields {
  version?: number;
  serial?: Buffer;
  validity?: Buffer;
  subject?: Buffer;
  extensions?: Buffer[];
}

/** A certificate built field by field (the signature is junk: parsing does not check it). */
function cert(o: CertFields): Buffer {
  const tbs = tlv(SEQ,
    ...(o.version === undefined ? [] : [tlv(0xa0, tlv(0x02, Buffer.from([o.version])))]),
    tlv(0x02, o.serial ?? Buffer.from([0x01, 0x23])), ECDSA_SHA256, name([CN, 0x0c, Buffer.from('issuer')]),
    o.validity ?? tlv(SEQ, tlv(0x17, Buffer.from('250101000000Z')), tlv(0x18, Buffer.from('20991231235959Z'))),
    o.subject ?? name([CN, 0x0c, Buffer.from('subject')]), SPKI,
    ...(o.extensions ? [tlv(0xa3, tlv(SEQ, ...o.extensions))] : []));
  return tlv(SEQ, tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0, 1, 2, 3])));
}

/** Certificates for what openssl will not write. */
function handMadeCertificates(): [string, Buffer][] {
  const validity = (a: [number, string], b: [number, string]) => tlv(SEQ, tlv(a[0], Buffer.from(a[1])), tlv(b[0], Buffer.from(b[1])));
  const bmp = Buffer.from('Zoë', 'utf16le').swap16();
  return [
    ['v1', cert({})],
    ['v2', cert({ version: 1 })],
    ['v4', cert({ version: 3 })],
    ['utc minutes', cert({ version: 2, validity: validity([0x17, '2501010000Z'], [0x17, '4912312359Z']) })],
    ['utc offset', cert({ version: 2, validity: validity([0x17, '250101000000+0130'], [0x17, '491231235959-0800']) })],
    ['generalized fraction', cert({ version: 2, validity: validity([0x18, '20250101000000.25Z'], [0x18, '20991231235959.000001Z']) })],
    ['generalized trailing zero', cert({ version: 2, validity: validity([0x18, '20250101000000.50Z'], [0x18, '20991231235959Z']) })],
    ['utc bad month', cert({ version: 2, validity: validity([0x17, '251301000000Z'], [0x17, '491231235959Z']) })],
    ['names of every string type', cert({ version: 2, subject: name([CN, 0x1e, bmp], ['550406', 0x13, Buffer.from('US')], ['55040a', 0x14, Buffer.from([0x41, 0xe9])], ['550405', 0x12, Buffer.from('12 34')], ['2a864886f70d010901', 0x16, Buffer.from('a@b.c')]) })],
    ['printable string with @', cert({ version: 2, subject: name([CN, 0x13, Buffer.from('a@b')]) })],
    ['empty subject', cert({ version: 2, subject: tlv(SEQ) })],
    ['uri invalid domain', cert({ version: 2, extensions: [san([6, 'https://a..b/x'])] })],
    ['uri with port', cert({ version: 2, extensions: [san([6, 'https://a.example:443/x'], [2, 'ok.example'])] })],
    ['uri escapes', cert({ version: 2, extensions: [san([6, 'https://u%41:p%e2%82@a.example/%e2%82%ff/a%2Fb?q=%zz#f%e2%82%21'], [6, 'spiffe://td/%7e'], [6, 's:'], [6, 'x:/p'], [6, '//h/p'], [6, 'a://b?'], [6, 'h://x/a?b?'])] })],
    ['uri bad escape', cert({ version: 2, extensions: [san([6, 'https://a.example/%zz'])] })],
    ['uri bad host', cert({ version: 2, extensions: [san([6, 'https://a%20b.example/'])] })],
    ['duplicate extension', cert({ version: 2, extensions: [san([2, 'a.example']), san([2, 'b.example'])] })],
    ['critical subject key id', cert({ version: 2, extensions: [ext('551d0e', tlv(0x04, Buffer.from('abcd')), true)] })],
    ['critical unknown', cert({ version: 2, extensions: [ext('2a0304', tlv(0x05), true)] })],
    ['critical empty san', cert({ version: 2, extensions: [ext('551d11', tlv(SEQ, tlv(0xa0, tlv(0x06, Buffer.from('2a03', 'hex')))), true)] })],
    ['bad ip length', cert({ version: 2, extensions: [san([7, 'abc'])] })],
    ['extensions in v1', tlv(SEQ)],
    ['non-ascii crl and aia urls', cert({ version: 2, extensions: [
      ext('551d1f', tlv(SEQ, tlv(SEQ, tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from([0x68, 0xe9, 0xff, 0x2f]))))))),
      ext('2b06010505070101', tlv(SEQ, tlv(SEQ, oidDer('2b06010505073001'), tlv(0x86, Buffer.from([0xc3, 0xa9, 0xe2, 0x82]))), tlv(SEQ, oidDer('2b06010505073002'), tlv(0x86, Buffer.from('http://ca/'))))),
    ] })],
  ];
}

/**
 * Seeded random certificates: random versions, serials, subjects (every string type, invalid
 * values too) and extension sets (key usages, basic constraints, EKUs, SANs, key ids, name
 * constraints, policies, policy constraints, unknown ones), well-formed or not.
 */
function randomCertificates(count: number, seed: number): [string, Buffer][] {
  const random = seeded(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const some = <T>(make: () => T, max: number): T[] => Array.from({ length: Math.floor(random() * (max + 1)) }, make);
  const text = () => pick(['a.example', 'B.Example', 'x', '', 'é.example', '*.w.example', 'a..b', 'host.example.', '10.0.0.1']);
  const oidHex = () => pick(['2b0601050507030' + pick(['1', '2', '3', '4', '8', '9']), '2a0304', '551d2500', '2b06010401823714020116', '67810c0102', '551d2000']);
  const generalName = (): Buffer => pick([
    () => tlv(0x82, Buffer.from(text())), () => tlv(0x81, Buffer.from(pick(['a@b.example', 'x@é.example', 'bad']))),
    () => tlv(0x86, Buffer.from(pick(['https://a.example/p', 'spiffe://td/x/y', 'urn:x:y', 'http://[::1]:80/', 'HTTP://U@H.example', '%zz', 'http://a b/']))),
    () => tlv(0x87, bytes(pick([4, 16, 5]))), () => tlv(0xa4, name([CN, 0x0c, Buffer.from('dir')])), () => tlv(0x88, Buffer.from('2a03', 'hex')),
  ])();
  const extensions = (): Buffer[] => {
    // Mostly distinct extension types (Go refuses duplicates), sometimes one twice.
    const makers = extensionMakers();
    const chosen = makers.sort(() => random() - 0.5).slice(0, Math.floor(random() * 6));
    if (chosen.length > 0 && random() < 0.05) chosen.push(chosen[0]!);
    return chosen.map((make) => make(random() < 0.3));
  };
  const extensionMakers = (): ((critical: boolean) => Buffer)[] => [
      (critical) => ext('551d0f', tlv(0x03, Buffer.concat([Buffer.from([pick([0, 1, 7])]), bytes(pick([0, 1, 2]))])), critical),
      (critical) => ext('551d13', tlv(SEQ, ...(random() < 0.6 ? [tlv(0x01, Buffer.from([pick([0xff, 0x00, 0x01])]))] : []), ...(random() < 0.5 ? [tlv(0x02, Buffer.from([pick([0, 1, 5, 0x80])]))] : [])), critical),
      (critical) => ext('551d25', tlv(SEQ, ...some(() => oidDer(oidHex()), 3)), critical),
      (critical) => ext('551d11', tlv(SEQ, ...some(generalName, 4)), critical),
      (critical) => ext('551d0e', tlv(0x04, bytes(pick([0, 4, 20]))), critical),
      (critical) => ext('551d23', tlv(SEQ, ...(random() < 0.7 ? [tlv(0x80, bytes(20))] : [])), critical),
      (critical) => ext('551d1e', tlv(SEQ, ...(random() < 0.7 ? [tlv(0xa0, ...some(() => tlv(SEQ, generalName()), 3))] : []), ...(random() < 0.5 ? [tlv(0xa1, ...some(() => tlv(SEQ, generalName()), 2))] : [])), critical),
      (critical) => ext('551d20', tlv(SEQ, ...some(() => tlv(SEQ, oidDer(oidHex())), 3)), critical),
      (critical) => ext('551d24', tlv(SEQ, ...(random() < 0.5 ? [tlv(0x80, Buffer.from([pick([0, 1, 2])]))] : []), ...(random() < 0.5 ? [tlv(0x81, Buffer.from([pick([0, 3])]))] : [])), critical),
      (critical) => ext('551d36', tlv(0x02, Buffer.from([pick([0, 1, 0xff])])), critical),
      (critical) => ext(pick(['2a0304', '2b0601050507010b']), tlv(0x05), critical),
  ];
  const attribute = (): [string, number, Buffer] => [pick([CN, '550406', '55040a', '55040b', '550405', '550407', '550411', '0992268993f22c640119']), pick([0x0c, 0x13, 0x16, 0x14, 0x12, 0x1e, 0x04]), Buffer.from(pick(['ok', 'a@b', 'Ünï', '12 3', 'x']), pick(['utf8', 'latin1']))];
  return Array.from({ length: count }, (_, i): [string, Buffer] => [`random ${i}`, cert({
    version: pick([undefined, 0, 1, 2, 2, 2]),
    serial: random() < 0.85 ? Buffer.concat([Buffer.from([1 + Math.floor(random() * 126)]), bytes(Math.floor(random() * 19))]) : pick([Buffer.from([0x00, 0x01]), Buffer.from([0xff]), Buffer.from([0x00]), bytes(20)]),
    subject: random() < 0.3 ? name(...some(attribute, 4)) : undefined,
    extensions: random() < 0.9 ? extensions() : undefined,
  })]);
}
