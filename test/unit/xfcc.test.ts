import { describe, expect, it } from 'vitest';
import { buildInput } from '../../src/authz/input.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { parseXfcc } from '../../src/identity/xfcc.js';
import { checkRequestJson, encodeRequest } from '../support/requests.js';

const GATEWAY = 'spiffe://mesh.local/ns/edge/sa/gateway';
const HEADER = 'By=spiffe://mesh.local/ns/edge/sa/gateway;Hash=abc123;Subject="CN=client,O=Acme; Inc";URI=spiffe://partner.example/app;DNS=a.example;DNS=b.example';

describe('x-forwarded-client-cert', () => {
  it('parses elements, quoted values and repeated DNS', () => {
    const [element] = parseXfcc(HEADER);
    expect(element).toMatchObject({ by: GATEWAY, hash: 'abc123', subject: 'CN=client,O=Acme; Inc', uri: 'spiffe://partner.example/app', dns: ['a.example', 'b.example'] });
    expect(element!.spiffe).toMatchObject({ valid: true, trust_domain: 'partner.example' });
  });

  it('refuses a SPIFFE identity for an element with several URI SANs, and ignores unknown keys', () => {
    const [element] = parseXfcc('Hash=ab;URI=spiffe://partner.example/apps/low;URI=spiffe://partner.example/apps/admin;constructor=1');
    expect(element!.uri).toBeUndefined();
    expect(element!.uris).toEqual(['spiffe://partner.example/apps/low', 'spiffe://partner.example/apps/admin']);
    expect(element!.spiffe).toMatchObject({ valid: false, error: expect.stringContaining('2 URI SANs') });
    expect(Object.keys(element!).sort()).toEqual(['dns', 'hash', 'spiffe', 'uris']);
  });

  it('parses several hops', () => {
    expect(parseXfcc('By=spiffe://a/x;URI=spiffe://a/y,By=spiffe://a/z;URI=spiffe://a/w').map((e) => e.uri)).toEqual(['spiffe://a/y', 'spiffe://a/w']);
  });

  it.each(['no-equals', 'URI="unterminated', 'URI=x;junk'])('rejects malformed %j', (header) => {
    expect(() => parseXfcc(header)).toThrow('x-forwarded-client-cert');
  });

  const inputFor = (source: string, trusted: string[]) =>
    buildInput(authzProtos().decodeCheckRequest(encodeRequest(checkRequestJson({ source, headers: { 'x-forwarded-client-cert': HEADER } }))), {
      maxBodyBytes: 1024,
      xfccTrustedSources: new Set(trusted),
    });

  it('is parsed into the input only when the Check comes from a trusted hop', () => {
    expect(inputFor(GATEWAY, [GATEWAY]).identity.xfcc).toMatchObject({ trusted: true, client: { uri: 'spiffe://partner.example/app' }, elements: [{ uri: 'spiffe://partner.example/app' }] });
    const forged = inputFor('spiffe://mesh.local/ns/shop/sa/checkout', [GATEWAY]).identity.xfcc;
    expect(forged).toEqual({ trusted: false, reason: "the Check's source is not in xfcc_trusted_sources; the header is caller-controlled" });
    expect(inputFor(GATEWAY, []).identity.xfcc).toMatchObject({ trusted: false });
  });
});
