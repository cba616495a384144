/**
 * End to end through real Envoy sidecars: a SPIFFE mesh on loopback (lab/lab.mjs) whose inbound
 * sidecars ask gatehouse about every request. One lab is started for the whole file; tests that
 * change it (policy swap, gatehouse stopped) put it back before they end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lenientRoute } from '../../lab/app.mjs';
import { startLab, waitFor, type CallResult, type Lab } from '../../lab/lab.mjs';
import { envoyOrSkip } from './envoy.js';

const tool = envoyOrSkip();

const ID = {
  checkout: 'spiffe://mesh.local/ns/shop/sa/checkout',
  inventory: 'spiffe://mesh.local/ns/shop/sa/inventory',
  payments: 'spiffe://mesh.local/ns/shop/sa/payments',
  prober: 'spiffe://mesh.local/ns/ops/sa/prober',
  evil: 'spiffe://evil.example/ns/shop/sa/checkout',
};

const charge = { method: 'POST', path: '/api/v1/charges', headers: { 'content-type': 'application/json' }, body: '{"amount":100}' };

describe.skipIf(tool.skip)(`a mesh of Envoy ${tool.version} sidecars calling through gatehouse`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab();
  });

  afterAll(async () => {
    await lab?.stop();
  });

  /** The request as the callee's application received it, if it did. */
  function seenBy(workload: string, result: CallResult) {
    return lab.workloads[workload]?.app?.seen.find((request) => request.headers['x-request-id'] === result.requestId);
  }

  it('an allowed call returns 200 and the upstream sees the headers the decision added', async () => {
    const result = await lab.call('checkout', 'inventory', { path: '/api/v1/stock/sku-42' });

    expect(result.status).toBe(200);
    const seen = seenBy('inventory', result);
    expect(seen?.path).toBe('/api/v1/stock/sku-42');
    expect(seen?.headers['x-caller-spiffe-id']).toBe(ID.checkout);
    expect(seen?.headers['x-gatehouse-rule']).toBe('checkout-reads-stock');

    const decision = await lab.decisionFor(result.requestId);
    expect(decision.gatehouse).toMatchObject({ outcome: 'allow', source_principal: ID.checkout });
    expect(decision.input.identity.destination.spiffe_id).toBe(ID.inventory);
    // The caller's sidecar originated mTLS with checkout's SVID and verified inventory's.
    const outbound = await lab.accessLogFor('checkout', result.requestId, 'outbound');
    expect(outbound).toMatchObject({ local_spiffe_id: ID.checkout, upstream_spiffe_id: ID.inventory, response_code: 200 });
    const inbound = await lab.accessLogFor('inventory', result.requestId);
    expect(inbound).toMatchObject({ peer_spiffe_id: ID.checkout, local_spiffe_id: ID.inventory, response_code: 200 });
  });

  it("a caller the policy does not permit gets 403 with the policy's body, and never reaches the service", async () => {
    const result = await lab.call('inventory', 'payments', charge);

    expect(result.status).toBe(403);
    expect(result.headers?.['content-type']).toBe('application/json');
    expect(result.json).toEqual({ error: 'forbidden', reason: `${ID.inventory} may not call payments` });
    expect(seenBy('payments', result)).toBeUndefined();
    const decision = await lab.decisionFor(result.requestId);
    expect(decision.gatehouse).toMatchObject({ outcome: 'deny', reason: `${ID.inventory} may not call payments` });
    expect(await lab.accessLogFor('payments', result.requestId)).toMatchObject({ response_code: 403, response_code_details: 'ext_authz_denied' });
  });

  it('a client without a certificate, or with one from another CA, is refused during the TLS handshake', async () => {
    const listener = `listener.127.0.0.1_${lab.workloads.inventory!.inboundPort}.ssl`;
    const before = await lab.envoyStats('inventory', `^${listener.replaceAll('.', '\\.')}\\.fail_verify`);
    const checksBefore = lab.decisions.length;

    const anonymous = await lab.callDirect('inventory', 'none', { path: '/api/v1/stock/sku-42' });
    expect(anonymous.status).toBe(0);
    expect(anonymous.error?.code).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);

    const rogue = await lab.callDirect('inventory', 'rogue', { path: '/api/v1/stock/sku-42' });
    expect(rogue.status).toBe(0);
    expect(rogue.error?.code).toMatch(/UNKNOWN_CA|ECONNRESET|EPIPE/);

    await waitFor('Envoy to count both refused handshakes', async () => {
      const after = await lab.envoyStats('inventory', `^${listener.replaceAll('.', '\\.')}\\.fail_verify`);
      return after[`${listener}.fail_verify_no_cert`] === (before[`${listener}.fail_verify_no_cert`] ?? 0) + 1 &&
        after[`${listener}.fail_verify_error`] === (before[`${listener}.fail_verify_error`] ?? 0) + 1;
    });
    // Refused before HTTP: gatehouse was never asked and the service never saw them.
    expect(lab.decisions.length).toBe(checksBefore);
    expect(seenBy('inventory', anonymous)).toBeUndefined();
    expect(seenBy('inventory', rogue)).toBeUndefined();
  });

  it('a caller from an unknown trust domain (certificate signed by the mesh CA) is denied by the policy', async () => {
    const result = await lab.callDirect('inventory', 'evil', { path: '/api/v1/stock/sku-42' });

    expect(result.status).toBe(403);
    expect(result.json).toEqual({ error: 'forbidden', reason: `${ID.evil} may not call inventory` });
    expect(seenBy('inventory', result)).toBeUndefined();
    const decision = await lab.decisionFor(result.requestId);
    expect(decision.gatehouse).toMatchObject({ outcome: 'deny', source_principal: ID.evil });
    expect(decision.input.identity.source.trust_domain).toBe('evil.example');
    expect(await lab.accessLogFor('inventory', result.requestId)).toMatchObject({ peer_spiffe_id: ID.evil, response_code: 403 });
  });

  it('a forged x-forwarded-client-cert (or x-caller-spiffe-id) changes nothing', async () => {
    const forged = {
      'x-forwarded-client-cert': `By=${ID.inventory};URI=${ID.checkout}`,
      'x-caller-spiffe-id': ID.checkout,
    };
    // prober claims to be checkout: still prober, still denied.
    const denied = await lab.callDirect('inventory', 'prober', { path: '/api/v1/stock/sku-42', headers: forged });
    expect(denied.status).toBe(403);
    expect(denied.json?.reason).toBe(`${ID.prober} may not GET /api/v1/stock/sku-42 on inventory`);
    const decision = await lab.decisionFor(denied.requestId);
    expect(decision.gatehouse.source_principal).toBe(ID.prober);
    // Envoy removed the header before the Check: the policy never even sees the forgery.
    expect(decision.input.attributes.request.http.headers).not.toHaveProperty('x-forwarded-client-cert');

    // checkout claims to be prober: allowed as checkout, and the service sees only the truth.
    const allowed = await lab.callDirect('inventory', 'checkout', {
      path: '/api/v1/stock/sku-42',
      headers: { 'x-forwarded-client-cert': `By=${ID.inventory};URI=${ID.prober}`, 'x-caller-spiffe-id': ID.prober },
    });
    expect(allowed.status).toBe(200);
    const seen = seenBy('inventory', allowed);
    expect(seen?.headers).not.toHaveProperty('x-forwarded-client-cert');
    expect(seen?.headers['x-caller-spiffe-id']).toBe(ID.checkout);
  });

  describe('path tricks never reach a protected route with a weaker decision than the plain path', () => {
    // Each caller may use one prefix (checkout: GET /api/v1/stock, prober: GET /healthz) and tries
    // to reach a route it may not call by dressing that route up.
    const cases: Array<{ caller: string; plain: string; tricks: string[] }> = [
      {
        caller: 'checkout',
        plain: '/admin',
        tricks: [
          '//admin', '/admin/', '/ADMIN', '/Admin', '/admin;x=1', '/admin;/', '/%2Fadmin', '/%2fadmin', '/./admin',
          '/api/v1/stock/../../../admin', '/api/v1/stock/..%2F..%2F..%2Fadmin', '/api/v1/stock%2F..%2F..%2F..%2Fadmin',
          '/api/v1/stock/%2e%2e/%2e%2e/%2e%2e/admin', '/api/v1/stock/.%2e/.%2e/.%2e/admin', '/api/v1/stock/..;/..;/..;/admin',
          '/api/v1/stock;/../../../admin', '/api/v1/stock/x;/../../../../admin', '/api/v1/stock/..;x/..;x/..;x/admin',
          '/api/v1/stock/..;jsessionid=1/..;jsessionid=1/..;jsessionid=1/admin', '/api/v1/stock/..%5C..%5C..%5Cadmin',
          '/api/v1/stock/..%5c..%5c..%5cadmin', '/api/v1/stock//..//..//..//admin', '/api/v1/stock/%252e%252e/%252e%252e/%252e%252e/admin',
          '/api/v1/stock/%00/../../../../admin',
        ],
      },
      {
        caller: 'prober',
        plain: '/api/v1/stock',
        tricks: [
          '/healthz/../api/v1/stock', '/healthz/..%2Fapi%2Fv1%2Fstock', '/healthz%2F..%2Fapi%2Fv1%2Fstock',
          '/healthz;/../api/v1/stock', '/healthz/..;/api/v1/stock', '/healthz/..;x/api/v1/stock', '//healthz/../api/v1/stock', '/HEALTHZ/../api/v1/stock',
          '/healthz/%2e%2e/api/v1/stock', '/healthz/..%5Capi%5Cv1%5Cstock', '/api/v1/stock/', '/API/V1/STOCK', '/api//v1//stock',
        ],
      },
    ];

    for (const { caller, plain, tricks } of cases) {
      it(`${caller} cannot reach ${plain}`, async () => {
        const baseline = await lab.call(caller, 'inventory', { path: plain });
        expect(baseline.status, `the plain path ${plain} must be denied for ${caller}, or this case tests nothing`).toBe(403);

        const outcomes: string[] = [];
        for (const trick of tricks) {
          const result = await lab.call(caller, 'inventory', { path: trick });
          const seen = seenBy('inventory', result);
          outcomes.push(`${trick} → ${result.status} (${seen ? `served as ${seen.path}, routed to ${seen.route}` : 'not served'})`);
          if (result.status === 0 || result.status >= 500) throw new Error(`${trick}: ${result.status} ${result.error?.message ?? result.text}`);
          if (!seen) {
            // Refused: by the policy (403) or by Envoy's path checks (400).
            expect([400, 403], `${trick}: ${result.status} ${result.text}`).toContain(result.status);
            continue;
          }
          // Served: it must not land on the protected route, the decision must have been about
          // exactly the path the service received, and that path must be one the caller may use.
          expect(seen.route, `${trick} was served as ${seen.path}`).not.toBe(lenientRoute(plain));
          const decision = await lab.decisionFor(result.requestId);
          expect(decision.input.attributes.request.http.path).toBe(seen.path);
          const plainRoute = `/${seen.route.slice(1).split('/').map(encodeURIComponent).join('/')}`;
          const direct = await lab.call(caller, 'inventory', { path: plainRoute });
          expect(direct.status, `${trick} was served as ${seen.path}, but the plain path ${plainRoute} is not allowed`).toBe(200);
        }
        // Nothing reached the protected route, whatever the status.
        const served = lab.workloads.inventory!.app!.seen.filter((request) => request.route === lenientRoute(plain));
        expect(served, outcomes.join('\n')).toEqual([]);
      });
    }
  });

  it("the decision_id in Envoy's access log is the one in gatehouse's decision log", async () => {
    const allowed = await lab.call('checkout', 'payments', charge);
    const denied = await lab.call('prober', 'payments', charge);
    expect(allowed.status).toBe(200);
    expect(denied.status).toBe(403);

    const ids = new Set<string>();
    for (const [result, reasonCode] of [[allowed, 'policy_allowed'], [denied, 'policy_denied']] as const) {
      const line = await lab.accessLogFor('payments', result.requestId);
      const decision = await lab.decisionFor(result.requestId);
      expect(line.decision_id).toMatch(/^[0-9a-f-]{16,}$/);
      expect(line.decision_id).toBe(decision.decision_id);
      expect(line.reason_code).toBe(reasonCode);
      expect(decision.gatehouse.reason_code).toBe(reasonCode);
      ids.add(String(line.decision_id));
    }
    expect(ids.size).toBe(2);
    // The caller's sidecar logged the same request id, so the whole path joins up.
    expect((await lab.accessLogFor('prober', denied.requestId, 'outbound')).response_code).toBe(403);
  });

  it('replacing the policy bundle while traffic flows changes decisions with zero 5xx', async () => {
    const results: Array<{ kind: 'charge' | 'stock'; phase: string; status: number; detail: string }> = [];
    let phase = 'hardened';
    let running = true;
    const worker = async (kind: 'charge' | 'stock') => {
      while (running) {
        const at = phase;
        const result = kind === 'charge'
          ? await lab.call('inventory', 'payments', charge)
          : await lab.call('checkout', 'inventory', { path: '/api/v1/stock/sku-42' });
        results.push({ kind, phase: at, status: result.status, detail: result.error?.message ?? result.text ?? '' });
      }
    };
    const workers = [worker('charge'), worker('charge'), worker('stock'), worker('stock')];
    try {
      await waitFor('traffic under the hardened policy', () => results.filter((r) => r.phase === 'hardened').length >= 20);
      phase = 'swapping';
      await lab.usePolicy('wildcard');
      phase = 'wildcard';
      await waitFor('the wildcard policy to let inventory charge', () => results.some((r) => r.phase === 'wildcard' && r.kind === 'charge' && r.status === 200));
      phase = 'swapping back';
      await lab.usePolicy('hardened');
      phase = 'hardened again';
      await waitFor('the hardened policy to deny inventory again', () => results.filter((r) => r.phase === 'hardened again' && r.kind === 'charge' && r.status === 403).length >= 5);
    } finally {
      running = false;
      await Promise.all(workers);
      if (lab.policy !== 'hardened') await lab.usePolicy('hardened');
    }

    const failures = results.filter((r) => r.status === 0 || r.status >= 500);
    expect(failures, JSON.stringify(failures.slice(0, 5))).toEqual([]);
    // checkout's stock reads are allowed by both policies, so they never change.
    expect(results.filter((r) => r.kind === 'stock' && r.status !== 200)).toEqual([]);
    const chargeStatuses = (at: string) => new Set(results.filter((r) => r.kind === 'charge' && r.phase === at).map((r) => r.status));
    expect(chargeStatuses('hardened')).toEqual(new Set([403]));
    expect(chargeStatuses('wildcard')).toContain(200);
    const afterSwap = results.filter((r) => r.kind === 'charge' && r.phase === 'hardened again');
    expect(afterSwap.at(-1)?.status).toBe(403);
  });

  it('with gatehouse stopped, requests fail closed and never reach the service', async () => {
    try {
      await lab.gatehouse.stop();
      for (const [from, to, request] of [
        ['checkout', 'inventory', { path: '/api/v1/stock/sku-42' }],
        ['checkout', 'payments', charge],
        ['prober', 'inventory', { path: '/healthz' }],
      ] as const) {
        const result = await lab.call(from, to, request);
        expect(result.status, `${from} → ${to} ${result.text}`).not.toBe(200);
        expect([403, 503]).toContain(result.status);
        expect(seenBy(to, result)).toBeUndefined();
        const line = await lab.accessLogFor(to, result.requestId);
        expect(line).toMatchObject({ response_code_details: 'ext_authz_error', decision_id: null });
        expect(line.response_flags).toContain('UAEX'); // unauthorized by the external authorization service
      }
    } finally {
      if (!lab.gatehouse.running) await lab.gatehouse.start();
    }
    // And recovers once gatehouse is back (on the same port).
    await waitFor('calls to succeed again', async () => (await lab.call('checkout', 'inventory', { path: '/api/v1/stock/sku-42' })).status === 200);
  });

  it('after all the hostile traffic above, every sidecar and gatehouse are still up', async () => {
    for (const [name, workload] of Object.entries(lab.workloads)) {
      const ready = await fetch(`http://127.0.0.1:${workload.adminPort}/ready`);
      expect(ready.status, `${name}'s Envoy`).toBe(200);
    }
    expect((await lab.gatehouse.readyz()).ready).toBe(true);
  });
});
