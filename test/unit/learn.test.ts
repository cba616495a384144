/** learn/: path templating, what is learned from, masking, probes, the data's shape. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoggedDecision } from '../../src/commands/decision-log-lines.js';
import { Learner } from '../../src/learn/learn.js';
import { observe } from '../../src/learn/observation.js';
import { GENERIC, HEX, INT, UUID, commonPrefix, commonSuffix, segmentMatches, segmentTemplate, templatePaths, typedVariable } from '../../src/learn/path-template.js';
import { policyData } from '../../src/learn/policy-data.js';
import { learnSummary } from '../../src/learn/summary.js';
import { ROOT, opaOrSkip } from '../support/tools.js';
import { TRUE_EDGES, trueTraffic } from '../support/learn-traffic.js';

const CHECKOUT = 'spiffe://mesh.local/ns/shop/sa/checkout';
const INVENTORY = 'spiffe://mesh.local/ns/shop/sa/inventory';
const SCANNER = 'spiffe://mesh.local/ns/tools/sa/scanner';

const split = (p: string) => p.replace(/^\//, '').split('/');

/** A decision-log event as the server writes it (the fields learn reads). */
function event(spec: { source?: string; destination?: string; method?: string; path: string; outcome?: 'allow' | 'deny'; reason?: string; dryRun?: boolean; time?: string }): LoggedDecision {
  const outcome = spec.outcome ?? 'allow';
  const source = spec.source ?? CHECKOUT;
  const destination = spec.destination ?? INVENTORY;
  const method = spec.method ?? 'GET';
  const lifted = spec.dryRun && outcome === 'deny' && !['client_not_allowed'].includes(spec.reason ?? '');
  return {
    decision_id: 'd-1',
    timestamp: spec.time ?? '2026-11-20T10:00:00.000Z',
    input: {
      attributes: { source: { principal: source }, destination: { principal: destination }, request: { http: { method, path: spec.path, headers: { ':path': spec.path } } } } as LoggedDecision['input']['attributes'],
      parsed_path: split(spec.path.split('?')[0]!),
      identity: {
        source: { principal: source, valid: true, spiffe_id: source },
        destination: { principal: destination, valid: true, spiffe_id: destination, service_account: destination.split('/').at(-1) },
      },
    },
    gatehouse: {
      outcome,
      reason_code: spec.reason ?? (outcome === 'allow' ? 'policy_allowed' : 'policy_denied'),
      source_principal: source,
      ...(spec.dryRun ? { dry_run: true } : {}),
      ...(lifted ? { enforced: 'allow' } : {}),
    },
  };
}

function learnFrom(events: LoggedDecision[], options = {}) {
  const learner = new Learner(options);
  events.forEach((e, i) => learner.add(e, `log:${i + 1}`, false));
  return learner.finish();
}

const edgeKeys = (result: ReturnType<typeof learnFrom>) => result.edges.map((e) => `${e.caller} ${e.method} ${e.path}`);

describe('path templates', () => {
  it('turns numbers, UUIDs and long hex into typed variables wherever they are, keeps the rest literal', () => {
    const paths = ['/api/v1/orders/42', '/api/v1/orders/7/items', '/api/v1/orders', '/blobs/9f86d081884c7d659a2feaa0c55ad015', '/r/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11', '/', '/a/', '/cafe', '/v2'];
    expect(templatePaths(paths.map(split), { minDistinct: 10 }).templates).toEqual([
      '/api/v1/orders/{int}',
      '/api/v1/orders/{int}/items',
      '/api/v1/orders',
      '/blobs/{hex}',
      '/r/{uuid}',
      '/',
      '/a/',
      '/cafe',
      '/v2',
    ]);
    expect(typedVariable('0123456789')).toBe('{int}');
    expect(typedVariable('abcdef012345678')).toBeUndefined(); // 15 hex digits: could be a word-ish id; not a hash
  });

  it("the learner's variable patterns are the policy's own (policies/authz.rego variable_pattern): a template matches exactly what it was learned from the shape of", () => {
    const rego = readFileSync(path.join(ROOT, 'policies/authz.rego'), 'utf8');
    const pattern = (name: string) => rego.match(new RegExp(`^variable_pattern\\("\\{${name}\\}"\\) := \`([^\`]+)\``, 'm'))?.[1];
    expect(pattern('int')).toBe(INT.source);
    expect(pattern('uuid')).toBe(UUID.source);
    // {hex} is only a hash (16+ hex digits), as the learner makes it: a 40-digit hash template never allows /invoices/cafe.
    expect(pattern('hex')).toBe(HEX.source);
    expect(rego.match(/^variable_pattern\(want\) := `([^`]+)`/m)?.[1]).toBe(GENERIC.source);
    expect(typedVariable('cafe')).toBeUndefined();
  });

  it('turns widely varying values at one position into {id} and merges what follows them', () => {
    const users = Array.from({ length: 12 }, (_, i) => `u-${(i * 7919).toString(36)}`);
    const paths = [...users.map((u) => `/users/${u}/orders`), '/users/me/settings', '/static/app.js', '/static/app.css'];
    const { templates, variables } = templatePaths(paths.map(split), { minDistinct: 10 });
    expect(new Set(templates)).toEqual(new Set(['/users/{id}/orders', '/users/{id}/settings', '/static/app.js', '/static/app.css']));
    expect(variables).toContainEqual({ prefix: '/users/{id}', distinct: 13, examples: expect.any(Array) });
  });

  it('reports positions where a few id-like values stayed literal', () => {
    const paths = ['/t/acme1/x', '/t/beta2/x', '/t/corp3/x', '/t/corp3/x', '/u/a'].map(split);
    const { templates, literals } = templatePaths(paths, { minDistinct: 10 });
    expect(templates).toEqual(['/t/acme1/x', '/t/beta2/x', '/t/corp3/x', '/t/corp3/x', '/u/a']);
    expect(literals).toEqual([{ prefix: '/t', distinct: 3, examples: ['acme1', 'beta2', 'corp3'] }]);
    const result = learnFrom(['/t/acme1/x', '/t/beta2/x', '/t/corp3/x'].map((path) => event({ path })));
    expect(learnSummary(result, ['log'], { rare: 3, show: 50, out: undefined })).toContain(
      'kept literal: too few values to be a variable (ids? learn again with a lower --min-distinct, or edit the template):\n  inventory  /t/…  3 values, e.g. acme1, beta2, corp3',
    );
  });

  it('reports id-like values no variable can match (a space in them), however many: new ones will be denied', () => {
    const files = Array.from({ length: 30 }, (_, i) => `/files/report ${1000 + i}.pdf`);
    const { templates, literals } = templatePaths([...files, '/files/a.pdf'].map(split), { minDistinct: 10 });
    expect(templates).toEqual([...files, '/files/a.pdf']);
    expect(literals).toEqual([{ prefix: '/files', distinct: 30, examples: ['report 1000.pdf', 'report 1001.pdf', 'report 1002.pdf'], unmatched: true }]);
    const result = learnFrom(files.map((path) => event({ path })));
    const summary = learnSummary(result, ['log'], { rare: 3, show: 50, out: undefined });
    expect(summary).toContain(
      `kept literal: values no variable matches (a space or other character outside {id}'s pattern; ids? new ones will be denied: allow them with a hand-written prefix rule):\n  inventory  /files/…  30 values, e.g. "report 1000.pdf", "report 1001.pdf", "report 1002.pdf"`,
    );
    expect(summary).not.toContain('too few values');
    // Next to an {id} made of the values that match, too.
    const mixed = [...Array.from({ length: 12 }, (_, i) => `/files/r-${i}.pdf`), ...files.slice(0, 3)];
    const both = templatePaths(mixed.map(split), { minDistinct: 10 });
    expect(both.templates.slice(0, 12).every((t) => t === '/files/r-{int}.pdf')).toBe(true);
    expect(both.literals).toEqual([{ prefix: '/files', distinct: 3, examples: ['report 1000.pdf', 'report 1001.pdf', 'report 1002.pdf'], unmatched: true }]);
  });

  it('a path of thousands of segments (/a/a/a/..., a server with max_path_segments raised) is templated, not a stack overflow', () => {
    const deep = Array.from({ length: 4000 }, () => 'a');
    const { templates } = templatePaths([deep, ['a', 'b']], { minDistinct: 10 });
    expect(templates).toEqual([`/${deep.join('/')}`, '/a/b']);
    const result = learnFrom([event({ path: `/${deep.join('/')}` })]);
    expect(result.data.mesh.services[INVENTORY]!.allow[0]!.exact_paths).toEqual([`/${deep.join('/')}`]);
  });

  it('a rule with 150,000 paths (ids no variable matches) is written: first and last seen without a call of 300,000 arguments', () => {
    const events = Array.from({ length: 150_000 }, (_, i) => event({ path: `/files/report ${i}.pdf`, time: new Date(Date.UTC(2026, 10, 20) + i).toISOString() }));
    const result = learnFrom(events);
    const rule = result.data.mesh.services[INVENTORY]!.allow[0]!;
    expect(rule.exact_paths.length).toBe(150_000);
    // So many paths make every Check of the caller slow: the review says so.
    expect(learnSummary(result, ['log'], { rare: 3, show: 50, out: undefined })).toContain(
      `rules with more than 1,000 paths (the policy compares a request with each: measured ~50 ms per Check at 150,000, eval_timeout_ms is 100 by default; make the ids variables or allow a prefix by hand):\n  inventory  "learned mesh.local/ns/shop/sa/checkout GET"  150,000 paths\n`,
    );
    expect([rule.learned.first_seen, rule.learned.last_seen]).toEqual(['2026-11-20T00:00:00.000Z', new Date(Date.UTC(2026, 10, 20) + 149_999).toISOString()]);
  });

  it('the review cuts long example values (a 1,500-digit id) to 64 characters; the data keeps the whole template', () => {
    const long = '7'.repeat(1500);
    const result = learnFrom([event({ path: `/api/v1/orders/${long}` })]);
    const summary = learnSummary(result, ['log'], { rare: 3, show: 50, out: undefined });
    expect(summary).toContain(`/api/v1/orders/{int}  1 distinct value, e.g. ${'7'.repeat(61)}… (1500 characters)\n`);
    expect(summary).not.toContain('7'.repeat(62));
    expect(result.data.mesh.services[INVENTORY]!.allow[0]!.exact_paths).toEqual(['/api/v1/orders/{int}']);
  });

  it('keeps a number, UUID or hash literal when it is the only one at its position and seen more than twice (an API version), and lists it', () => {
    const issues = Array.from({ length: 20 }, (_, i) => `/rest/api/2/issue/PROJ-${i}`);
    const { templates, literals } = templatePaths(issues.map(split), { minDistinct: 10 });
    expect(new Set(templates)).toEqual(new Set(['/rest/api/2/issue/PROJ-{int}']));
    expect(literals).toContainEqual({ prefix: '/rest/api', distinct: 1, examples: ['2'], constant: true, calls: 20 });
    // Two versions, or a value seen at most twice, are ids as before.
    expect(new Set(templatePaths([...issues, '/rest/api/3/issue/PROJ-1'].map(split), { minDistinct: 10 }).templates)).toEqual(new Set(['/rest/api/{int}/issue/PROJ-{int}']));
    expect(templatePaths([split('/orders/42'), split('/orders/42')], { minDistinct: 10 }).templates).toEqual(['/orders/{int}', '/orders/{int}']);
    // Weights count calls: one order id called 3 times is kept literal too (new ids would be denied: the review says so).
    expect(templatePaths([split('/orders/42')], { minDistinct: 10 }, [3]).templates).toEqual(['/orders/42']);
    const result = learnFrom(issues.map((path) => event({ path })));
    expect(learnSummary(result, ['log'], { rare: 3, show: 50, out: undefined })).toContain(
      'kept literal: the only number, UUID or hash at its position, seen many times (a constant such as an API version; if it is an id, new ones will be denied: write the variable in by hand):\n  inventory  /rest/api/2  20×\n',
    );
    // The policy then allows /rest/api/2/issue/X only, not /rest/api/3/issue/X.
    expect(learnFrom(issues.map((path) => event({ path }))).data.mesh.services[INVENTORY]!.allow[0]!.exact_paths).toEqual(['/rest/api/2/issue/PROJ-{int}']);
  });

  it('keeps values called often and without digits literal next to an {id}', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `/users/k${i}z`);
    const paths = [...ids, ...Array.from({ length: 50 }, () => '/users/me'), ...Array.from({ length: 9 }, () => '/users/search')];
    const weights = paths.map(() => 1);
    const { templates } = templatePaths(paths.map(split), { minDistinct: 10 }, weights);
    expect(new Set(templates)).toEqual(new Set(['/users/k{int}z', '/users/me', '/users/search']));
  });

  it('keeps a small fixed set of literal values literal, however often each is called', () => {
    const resources = ['stock', 'reservations', 'orders', 'customers', 'carts', 'prices', 'tax', 'shipping', 'returns', 'reviews', 'coupons'];
    const paths = resources.flatMap((r) => Array.from({ length: 20 }, () => `/api/${r}`));
    expect(new Set(templatePaths(paths.map(split), { minDistinct: 10 }).templates).size).toBe(resources.length);
  });

  it('weights count calls: values each called many times are not ids', () => {
    const names = Array.from({ length: 12 }, (_, i) => `name${String.fromCharCode(97 + i)}`);
    const paths = names.map((n) => split(`/tenants/${n}`));
    expect(templatePaths(paths, { minDistinct: 10 }, names.map(() => 50)).templates.every((t) => !t.includes('{'))).toBe(true);
    expect(templatePaths(paths, { minDistinct: 10 }).templates.every((t) => t === '/tenants/{id}')).toBe(true);
  });

  it('never turns a value the policy\'s variable would not match into a variable', () => {
    const odd = ['.hidden', '', 'a b', 'a%2Fb', 'x\\y', '~tilde', '..'];
    const paths = [...Array.from({ length: 12 }, (_, i) => `/f/k${i}x`), ...odd.map((o) => `/f/${o}`)].map(split);
    const { templates } = templatePaths(paths, { minDistinct: 10 });
    for (const o of odd) expect(templates).toContain(`/f/${o}`);
    expect(templates.filter((t) => t === '/f/k{int}x')).toHaveLength(12);
    for (const o of odd) expect(GENERIC.test(o)).toBe(false);
  });
});

describe('template segments: a literal prefix and/or suffix around one variable', () => {
  const uuids = ['3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11', '9ac26a99-6e97-46f2-a931-f06d48e16f8e', '0b13f164-d7ff-438f-ad04-6dc8844684a9'];

  it('the narrowest template covering the values: common prefix and suffix cut at boundaries, the narrowest variable between', () => {
    const cases: [string[], string][] = [
      [Array.from({ length: 12 }, (_, i) => `sku-${1001 + i}`), 'sku-{int}'], // common "sku-10" cut back to "sku-"
      [Array.from({ length: 12 }, (_, i) => `page${i}`), 'page{int}'], // letter→digit boundary
      [Array.from({ length: 12 }, (_, i) => `v${i + 1}`), 'v{int}'],
      [uuids.map((u) => `${u}.json`), '{uuid}.json'],
      [['report-1.pdf', 'report-ab.pdf', 'report-2026-01.pdf'], 'report-{id}.pdf'], // mixed shapes: the widest
      [['sku-vduw4w', 'sku-epx4nt', 'sku-38ydj2'], 'sku-{id}'],
      [['h-9f86d081884c7d659a2feaa0c55ad015', 'h-0123456789abcdef0123'], 'h-{hex}'],
      [['12px', '7px'], '{int}px'], // digit→letter boundary
      [['k1z', 'k2z', 'k10z'], 'k{int}z'],
      // No boundary: a common leading letter or digit of ids is not a prefix.
      [['namea', 'nameb'], '{id}'],
      [['abc1', 'abd2'], '{id}'],
      [['sku-a1', 'sku-a2'], 'sku-{id}'], // "a" then digits: part of the id, not a word
      [['abc1', 'abc2'], '{id}'], // hex letters before digits: could be a hash
      [['1001x', '2001x'], '{int}x'], // the common "001" is not a suffix
      [['sku-1', 'bundle-2'], '{id}'],
      // A number between separators (a year, a month, a version part) is a shared value, not a
      // literal: November's dates are not 2026-11-{int}, which would deny December's (review).
      [Array.from({ length: 30 }, (_, i) => `2026-11-${String(i + 1).padStart(2, '0')}`), '{id}'],
      [Array.from({ length: 30 }, (_, i) => `report-2026-11-${String(i + 1).padStart(2, '0')}.pdf`), 'report-{id}.pdf'],
      [['report-2026-q3.pdf', 'report-2026-q4.pdf'], 'report-{id}.pdf'],
      [['1.2.3', '1.2.4', '1.2.10'], '{id}'],
      [['10.0.0.1', '10.0.0.2'], '{id}'],
      [['a.2.json', 'b.2.json'], '{id}.json'],
      [['v1.2', 'v1.3'], 'v1.{int}'], // "v1." is a word with its digit, kept
      // A shorter prefix that leaves a narrower variable wins: UUIDs sharing their first group.
      [['order-0190a5d0-02dc-7b0f-918c-7703ecbb71ac', 'order-0190a5d0-1c7d-7d85-b6fb-19847a9ffbf0'], 'order-{uuid}'],
      [['0190a5d0-02dc-7b0f-918c-7703ecbb71ac.json', '0190a5d0-1c7d-7d85-b6fb-19847a9ffbf0.json'], '{uuid}.json'],
      // Prefix and suffix never overlap and always leave a non-empty middle.
      [['x-x', 'x-1-x'], 'x-{id}'],
      [['a.b', 'a.b.b'], 'a.{id}'],
      // A middle no variable matches (a leading dot) drops that literal part.
      [['x-.a', 'x-.b'], 'x-.{id}'],
      [['x.pdf', 'y.pdf'], '{id}.pdf'],
    ];
    for (const [values, template] of cases) {
      expect(segmentTemplate(values), values.join(' ')).toBe(template);
      for (const v of values) expect(segmentMatches(v, template), `${v} ~ ${template}`).toBe(true);
    }
    // 150,000 distinct ids at one position: more than Math.min(...values) can take as arguments (review).
    expect(segmentTemplate(Array.from({ length: 150_000 }, (_, i) => `sku-${i}`))).toBe('sku-{int}');
    expect(commonPrefix(['sku-1001', 'sku-1002'], 7)).toBe(4);
    expect(commonSuffix(['a.tar.gz', 'b.tar.gz'], 7)).toBe(7);
  });

  it('twelve root pages become /page{int}, sku ids sku-{int}, next to literal neighbours; /stock/admin is not covered', () => {
    const paths = [
      ...Array.from({ length: 12 }, (_, i) => `/page${i}`),
      ...Array.from({ length: 12 }, (_, i) => `/stock/sku-${1001 + i}`),
      ...uuids.flatMap((u) => [`/files/${u}.json`, `/files/${u.replace('3', '4')}.json`, `/files/${u.replace('0', '1')}.json`, `/files/${u.replace('9', '8')}.json`]),
      '/healthz',
      '/healthz',
      '/healthz',
      '/stock/summary',
      '/stock/summary',
      '/stock/summary',
    ];
    const { templates, variables } = templatePaths(paths.map(split), { minDistinct: 10 });
    expect(new Set(templates)).toEqual(new Set(['/page{int}', '/stock/sku-{int}', '/files/{uuid}.json', '/healthz', '/stock/summary']));
    expect(variables.map((v) => v.prefix).sort()).toEqual(['/files/{uuid}.json', '/page{int}', '/stock/sku-{int}']);
    for (const denied of ['admin', 'sku-', 'sku-x', 'sku-1.pdf']) expect(segmentMatches(denied, 'sku-{int}'), denied).toBe(false);
    for (const denied of ['page', 'pageX', 'anything', 'page1x']) expect(segmentMatches(denied, 'page{int}'), denied).toBe(false);
  });

  it('every learned template matches the calls it came from (generated traffic of every true edge, segment by segment)', () => {
    const calls = trueTraffic(5, 600);
    for (const destination of new Set(TRUE_EDGES.map((e) => e.destination))) {
      const here = calls.filter((c) => c.destination === destination).map((c) => split(c.path.split('?')[0]!));
      const { templates } = templatePaths(here, { minDistinct: 10 });
      here.forEach((segments, i) => {
        const template = split(templates[i]!);
        expect(template.length).toBe(segments.length);
        segments.forEach((segment, j) => expect(segmentMatches(segment, template[j]!), `${segments.join('/')} ~ ${templates[i]}`).toBe(true));
      });
      const expected = new Set(TRUE_EDGES.filter((e) => e.destination === destination).map((e) => e.template));
      expect(new Set(templates)).toEqual(expected);
    }
  });

  const opa = opaOrSkip();
  it.skipIf(opa.skip)("segmentMatches is the policy's segment_matches (policies/authz.rego, real OPA) on every pair of a table of segments and templates", () => {
    const templates = ['{int}', '{hex}', '{uuid}', '{id}', '{name}', 'sku-{int}', 'page{int}', '{uuid}.json', 'report-{id}.pdf', '{int}.pdf', '{id}.pdf', 'h-{hex}', 'x{}', 'x{int}{int}', '{a}{b}', '{}', '{int}-{int}', 'a{b', 'a}b{', 'literal', 'ünï-{int}'];
    const segments = [
      '', '.', '..', '42', '0', '-1', 'cafe', '0123456789abcdef', '0123456789ABCDEF0', uuids[0]!, `${uuids[0]}.json`, `${uuids[0]}.json.json`, `${uuids[0]}.JSON`, '.json',
      'sku-1', 'sku-', 'sku-x', 'sku-1-2', 'SKU-1', 'xsku-1', 'sku-{int}', 'page', 'page0', 'pageX', 'page1x', 'page{int}', 'report-a.pdf', 'report-.pdf', 'report-..pdf', 'report-a b.pdf',
      'report-a/b.pdf', 'report-x.pdf.pdf', '1.pdf', '1.pdf.pdf', 'x.pdf.pdf', '..pdf', 'h-0123456789abcdef', 'h-cafe', 'x{}', 'x1', 'x{int}{int}', 'x12', '{a}{b}', 'a{b', 'a}b{',
      'literal', 'Literal', 'a b', 'a%2Fb', 'a\\b', '_x', '~x', 'ünï-7', 'ünï-', 'ünï-x', '{}', '{int}-{int}', '1-2', 'admin',
    ];
    const pairs = templates.flatMap((t) => segments.map((s) => [s, t] as const));
    const query = '[n | some c in input.pairs; n := count([1 | data.envoy.authz.segment_matches(c[0], c[1])])]';
    const out = execFileSync(opa.opa, ['eval', '--stdin-input', '--format', 'json', '-d', path.join(ROOT, 'policies/authz.rego'), query], { input: JSON.stringify({ pairs }) });
    const counts: number[] = JSON.parse(out.toString()).result[0].expressions[0].value;
    const policy = pairs.map((_, i) => `${pairs[i]![0]} ~ ${pairs[i]![1]}: ${counts[i]! > 0}`);
    const learner = pairs.map(([s, t]) => `${s} ~ ${t}: ${segmentMatches(s, t)}`);
    expect(learner).toEqual(policy);
    // The table holds both answers for every form.
    for (const t of templates) expect(pairs.some(([s, u], i) => u === t && counts[i]! > 0 && s !== '')).toBe(true);
  });
});

describe('what is learned from', () => {
  it('enforcing: allowed calls are learned; enforced denials and refusals are reported, not learned', () => {
    const result = learnFrom([
      event({ path: '/api/v1/stock/1' }),
      event({ path: '/api/v1/admin', outcome: 'deny' }),
      event({ path: '/api/v1/x', outcome: 'deny', reason: 'request_refused' }),
    ]);
    expect(edgeKeys(result)).toEqual([`${CHECKOUT} GET /api/v1/stock/{int}`]);
    expect(result.notLearned).toMatchObject({ denied: 1, refused: 1 });
    expect(result.refusedCodes).toEqual({ request_refused: 1 });
    expect(result.denied).toEqual([{ caller: CHECKOUT, destination: INVENTORY, count: 1 }]);
    expect(result.dryRun).toBe(false);
  });

  it('dry-run: denials dry-run let through are learned and flagged; refusals and enforced boundaries are not', () => {
    const result = learnFrom([
      event({ path: '/api/v1/stock/1', dryRun: true }),
      event({ path: '/api/v1/admin', outcome: 'deny', dryRun: true }),
      event({ path: '/api/v1/x', outcome: 'deny', reason: 'request_refused', dryRun: true }),
      event({ path: '/api/v1/y', outcome: 'deny', reason: 'client_not_allowed', dryRun: true }),
    ]);
    expect(edgeKeys(result)).toEqual([`${CHECKOUT} GET /api/v1/admin`, `${CHECKOUT} GET /api/v1/stock/{int}`]);
    expect(result.edges.find((e) => e.path === '/api/v1/admin')!.policyDenied).toBe(1);
    expect(result.notLearned).toMatchObject({ refused: 2, denied: 0 });
    expect(result.dryRun).toBe(true);
  });

  it('counts and first/last seen per edge; data groups paths by the exact set of methods seen', () => {
    const result = learnFrom([
      event({ path: '/a', method: 'GET', time: '2026-11-20T10:00:05.000Z' }),
      event({ path: '/a', method: 'GET', time: '2026-11-20T10:00:01.000Z' }),
      event({ path: '/a', method: 'POST', time: '2026-11-20T10:00:09.000Z' }),
      event({ path: '/b', method: 'GET' }),
    ]);
    const a = result.edges.find((e) => e.path === '/a' && e.method === 'GET')!;
    expect([a.count, new Date(a.firstSeen!).toISOString(), new Date(a.lastSeen!).toISOString()]).toEqual([2, '2026-11-20T10:00:01.000Z', '2026-11-20T10:00:05.000Z']);
    const rules = policyData(result.edges).mesh.services[INVENTORY]!.allow;
    // GET,POST on /a and GET on /b: one rule per method set, so POST /b is not allowed.
    expect(rules.map((r) => [r.methods, r.exact_paths])).toEqual([
      [['GET'], ['/b']],
      [['GET', 'POST'], ['/a']],
    ]);
    expect(rules[1]!.learned).toMatchObject({ calls: 3, first_seen: '2026-11-20T10:00:01.000Z', last_seen: '2026-11-20T10:00:09.000Z', edges: { 'GET /a': 2, 'POST /a': 1 } });
  });

  it('sets aside calls without a valid caller or destination SPIFFE ID, and segments an allow-list cannot state', () => {
    const noCaller = event({ path: '/a' });
    (noCaller.input as any).identity.source = { principal: 'x', valid: false, error: 'scheme is not spiffe://' };
    const forged = event({ path: '/a' });
    (forged.input as any).identity.source.spiffe_id = 'spiffe://Mesh.local/../x';
    const noDestination = event({ path: '/a' });
    (noDestination.input as any).identity.destination = { principal: null, valid: false, error: 'no principal' };
    const encodedSlash = event({ path: '/a/b%2Fc' });
    (encodedSlash.input as any).parsed_path = ['a', 'b/c'];
    const variableShaped = event({ path: '/a/{id}' });
    const braces = event({ path: '/a/{}' });
    // (Another caller: three unusable paths make CHECKOUT look like a probe.)
    const other = 'spiffe://mesh.local/ns/shop/sa/other';
    const result = learnFrom([noCaller, forged, noDestination, encodedSlash, variableShaped, braces, event({ source: other, path: '/a/{x' })]);
    expect(edgeKeys(result)).toEqual([`${other} GET /a/{x`]);
    expect(result.notLearned).toMatchObject({ no_caller: 2, no_destination: 1, unusable_path: 3 });
  });

  it('sets aside a segment the policy would read as a template segment (sku-{int}, {uuid}.json); two variables or a lone brace are literal text', () => {
    const callers = ['a', 'b', 'c', 'd'].map((n) => `spiffe://mesh.local/ns/shop/sa/${n}`);
    const result = learnFrom([
      event({ source: callers[0], path: '/a/sku-{int}' }),
      event({ source: callers[1], path: '/a/{uuid}.json' }),
      event({ source: callers[2], path: '/a/x{int}{int}' }),
      event({ source: callers[3], path: '/a/x}{' }),
    ]);
    expect(result.notLearned).toMatchObject({ unusable_path: 2 });
    expect(edgeKeys(result)).toEqual([`${callers[2]} GET /a/x{int}{int}`, `${callers[3]} GET /a/x}{`]);
    // Written literally, each is matched by the policy as exactly itself.
    expect(segmentMatches('x{int}{int}', 'x{int}{int}')).toBe(true);
    // Starting with "{" and ending with "}" does not make a variable: "{}", "{a}{b}" and
    // "{int}-{int}" are literal text, as in the policy, not a generic {id} (review).
    for (const template of ['{}', '{a}{b}', '{int}-{int}']) {
      expect(segmentMatches('admin', template), template).toBe(false);
      expect(segmentMatches(template, template), template).toBe(true);
    }
    expect(segmentMatches('x12', 'x{int}{int}')).toBe(false);
  });

  it('a log of a server without mTLS (no principals, so no SPIFFE IDs) says why nothing was learned', () => {
    const plain = Array.from({ length: 5 }, (_, i) => {
      const e = event({ path: `/a/${i}` });
      const input = e.input as any;
      input.attributes.source = {};
      input.attributes.destination = {};
      input.identity = { source: { principal: null, valid: false, error: 'no principal' }, destination: { principal: null, valid: false, error: 'no principal' } };
      return e;
    });
    const summary = (events: LoggedDecision[]) => learnSummary(learnFrom(events), ['log'], { rare: 3, show: 50, out: undefined });
    expect(summary(plain)).toContain(
      '  no SPIFFE IDs: 5 of 5 calls had no valid caller or destination SPIFFE ID; the allow-list is keyed on them, which Envoy sends (source/destination principal) only for mTLS connections with SPIFFE certificates\n',
    );
    // A few such calls among many with IDs are just counted.
    expect(summary([...plain.slice(0, 2), ...Array.from({ length: 3 }, (_, i) => event({ path: `/b/${i}` }))])).not.toContain('no SPIFFE IDs');
  });
});

describe('masked values', () => {
  const SECRET = 'secret-7f3a';
  const maskings: [string, (e: any) => void][] = [
    ['a path segment', (e) => (e.input.parsed_path[3] = '[masked]')],
    ['the whole parsed path', (e) => (e.input.parsed_path = '[masked]')],
    ['the raw path', (e) => (e.input.attributes.request.http.path = '[masked]')],
    ['the method', (e) => (e.input.attributes.request.http.method = '[masked]')],
    ['the :path header', (e) => (e.input.attributes.request.http.headers[':path'] = '[masked]')],
    ['the caller identity', (e) => (e.input.identity.source = '[masked]')],
    ['the caller SPIFFE ID', (e) => (e.input.identity.source.spiffe_id = '[masked]')],
    ['the caller principal', (e) => (e.input.attributes.source.principal = '[masked]')],
    ['the logged source principal', (e) => (e.gatehouse.source_principal = '[masked]')],
    ['the destination', (e) => (e.input.identity.destination.spiffe_id = '[masked]')],
    ['all identities', (e) => (e.input.identity = '[masked]')],
  ];
  for (const [what, mask] of maskings) {
    it(`${what} masked: the call is set aside, nothing of it is written or printed`, () => {
      const masked = event({ path: `/api/v1/users/${SECRET}` });
      mask(masked);
      const result = learnFrom([masked, event({ path: '/api/v1/stock' })]);
      expect(result.notLearned.masked).toBe(1);
      const text = JSON.stringify(policyData(result.edges)) + learnSummary(result, ['log'], { rare: 3, show: 50, out: 'x' });
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('[masked]');
      expect(edgeKeys(result)).toEqual([`${CHECKOUT} GET /api/v1/stock`]);
    });
  }

  it('the review names the masked fields that set calls aside (decision_log_mask headers/* masks :path and :method too), never their values', () => {
    const headersMasked = Array.from({ length: 4 }, (_, i) => {
      const e = event({ path: `/api/v1/users/${SECRET}${i}` });
      (e.input as any).attributes.request.http.headers = { ':method': '[masked]', ':path': '[masked]' };
      return e;
    });
    const segment = event({ path: `/api/v1/users/${SECRET}` });
    (segment.input as any).parsed_path[3] = '[masked]';
    const result = learnFrom([...headersMasked, segment]);
    expect(result.maskedFields).toEqual({ 'the :method header': 4, 'the :path header': 4, 'a segment of input.parsed_path': 1 });
    const summary = learnSummary(result, ['log'], { rare: 3, show: 50, out: undefined });
    expect(summary).toContain(
      '  not learned: 5 with masked caller, destination, method or path (decision_log_mask; never learned; masked: the :method header 4, the :path header 4, a segment of input.parsed_path 1)',
    );
    expect(summary).not.toContain(SECRET);
  });

  it('observe never returns a masked value', () => {
    const e = event({ path: '/x' });
    (e.input as any).identity.destination.service_account = '[masked]';
    expect(observe(e).observation?.destinationName).toBe('inventory');
  });
});

describe('probes', () => {
  it('flags a caller asking for scanner targets, or crawling many top-level paths mostly denied; not learned unless asked', () => {
    const crawl = Array.from({ length: 12 }, (_, i) => event({ source: SCANNER, path: `/p${i}/x`, outcome: 'deny', dryRun: true }));
    const targets = ['/.env', '/wp-login.php'].map((p) => event({ source: SCANNER, path: p, outcome: 'deny', dryRun: true }));
    const normal = Array.from({ length: 30 }, (_, i) => event({ path: `/api/v1/stock/${i}`, outcome: 'deny', dryRun: true }));
    const result = learnFrom([...crawl, ...targets, ...normal]);
    expect(result.probes.map((p) => p.caller)).toEqual([SCANNER]);
    expect(result.probes[0]!.reasons).toEqual(['asked for 2 well-known scanner targets (/.env, /wp-login.php)', '14 distinct first path segments in 14 requests, 100% denied by the policy']);
    expect(edgeKeys(result)).toEqual([`${CHECKOUT} GET /api/v1/stock/{int}`]);
    expect(result.notLearned.probe).toBe(14);
    // The scanner's many one-off first segments did not turn the service's literal paths into {id}.
    expect(result.variables.map((v) => v.position.prefix)).toEqual(['/api/v1/stock/{int}']);
    expect(learnFrom([...crawl, ...targets], { includeProbes: true }).edges.length).toBeGreaterThan(0);
  });

  it('services that call the same things again are not probes, even when the serving policy denies them all (a first dry-run)', () => {
    // A gateway in front of a real WordPress, and a front end with many top-level paths.
    const wordpress = ['/wp-login.php', '/wp-admin/index.php', '/index.php'].flatMap((p) => Array.from({ length: 5 }, () => event({ source: SCANNER, path: p, outcome: 'deny', dryRun: true })));
    const frontEnd = Array.from({ length: 12 }, (_, i) => Array.from({ length: 3 }, () => event({ path: `/page${i}`, outcome: 'deny', dryRun: true }))).flat();
    // 3 refusals in 40 calls: a client that sometimes sends an encoded "/".
    const sometimesRefused = [...Array.from({ length: 3 }, () => event({ path: '/x', outcome: 'deny', reason: 'request_refused' })), ...Array.from({ length: 37 }, () => event({ path: '/x' }))];
    const result = learnFrom([...wordpress, ...frontEnd, ...sometimesRefused]);
    expect(result.probes).toEqual([]);
    expect(edgeKeys(result).filter((k) => k.startsWith(SCANNER))).toEqual([`${SCANNER} GET /index.php`, `${SCANNER} GET /wp-admin/index.php`, `${SCANNER} GET /wp-login.php`]);
    // page0..page11 hold digits: page{int}; "x" (called 37 times) stays literal.
    expect(edgeKeys(result).filter((k) => k.startsWith(CHECKOUT))).toEqual([`${CHECKOUT} GET /page{int}`, `${CHECKOUT} GET /x`]);
  });

  it('a caller with repeated refusals before the policy is a probe', () => {
    const refused = Array.from({ length: 3 }, () => event({ source: SCANNER, path: '/a', outcome: 'deny', reason: 'request_refused' }));
    const result = learnFrom([...refused, event({ source: SCANNER, path: '/b' })]);
    expect(result.probes[0]!.reasons).toEqual(['3 requests refused before the policy (malformed or hostile paths)']);
    expect(result.edges).toEqual([]);
  });
});
