/**
 * The request-hygiene examples (test/cases/hygiene/cases.json) through the lab mesh
 * (lab/lab.mjs): checkout's application → its outbound sidecar → mTLS → inventory's inbound
 * sidecar → gatehouse (strict, the default) → inventory's application. The lab's inbound Envoy
 * already normalises paths, rejects escaped slashes and ";" (envoy/inbound.yaml), so some examples
 * are refused by Envoy before gatehouse sees them; every other one must be refused by gatehouse
 * with the example's rule. None may reach the application.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.mjs';
import { HYGIENE_CASES, hygieneRequestJson } from '../support/hygiene-cases.js';
import { envoyOrSkip } from './envoy.js';

const tool = envoyOrSkip();

/**
 * Examples the mesh's Envoys refuse themselves (their status), and those a Node HTTP client cannot
 * send (raw bytes, an empty method, headers over Envoy's limits: test/e2e/hygiene.test.ts sends
 * those as raw bytes).
 */
const ENVOY_REFUSES: Record<string, number> = {
  'separator: encoded slash': 400, // path_with_escaped_slashes_action: REJECT_REQUEST
  'separator: encoded backslash': 400,
  'path parameters: jsessionid': 400, // the ";" route's direct_response
  'control and look-alike: NUL': 400, // normalize_path
};
const NOT_SENDABLE = new Set(['invalid UTF-8: raw 0xF1 in the path', 'invalid UTF-8: 0xFF in a header value', 'method: empty method', 'oversized: 64 KiB path', 'oversized: 200 headers of 8 KiB']);
/** The inbound sidecar buffers 8 KiB of body and sends it as partial: never parsed, so no limit to reach. */
const TRUNCATED = new Set(['oversized: 100,000 form fields', 'oversized: 10,000 multipart parts']);

const examples = HYGIENE_CASES.refused.filter((c) => c.example && !NOT_SENDABLE.has(`${c.class}: ${c.name}`));

describe.skipIf(tool.skip)(`the hygiene examples through the lab mesh (Envoy ${tool.version})`, () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab();
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it.each(examples.map((c) => [`${c.class}: ${c.name}`, c] as const))('%s', async (name, c) => {
    const http = hygieneRequestJson(c.request).attributes.request.http as { method: string; path: string; host?: string; headers: Record<string, string>; body?: string };
    const headers = Object.fromEntries(Object.entries(http.headers).filter(([key]) => !key.startsWith(':') && key !== 'x-request-id'));
    if (c.request.host) headers.host = c.request.host;
    const result = await lab.call('checkout', 'inventory', { method: http.method, path: http.path, headers, body: http.body });
    expect(result.status, result.text).not.toBe(200);
    expect(lab.workloads.inventory!.app!.seen.some((seen) => seen.headers['x-request-id'] === result.requestId)).toBe(false);
    const line = await lab.accessLogFor('inventory', result.requestId);
    if (ENVOY_REFUSES[name] !== undefined) {
      expect(result.status).toBe(ENVOY_REFUSES[name]);
      expect(line.response_code_details).not.toBe('ext_authz_denied');
      return;
    }
    expect(line.response_code_details, `refused by Envoy (${result.status}); list it in ENVOY_REFUSES`).toBe('ext_authz_denied');
    const decision = await expect.poll(() => lab.decisions.find((d) => d.decision_id === line.decision_id), { timeout: 5000 }).toBeDefined()
      .then(() => lab.decisions.find((d) => d.decision_id === line.decision_id)!);
    if (TRUNCATED.has(name)) {
      expect(decision.input.truncated_body).toBe(true);
      expect(decision.gatehouse.reason_code).toBe('policy_denied');
    } else if (c.rule) {
      expect(result.status).toBe(c.status);
      expect(decision.gatehouse.hygiene.rule).toBe(c.rule);
      expect(decision.gatehouse.reason).toContain(`request hygiene rule ${c.rule}: `);
    } else {
      // The JSON family: parsed, so a body rule sees it (the lab's policy denies this caller anyway).
      expect(decision.input.parsed_body).toEqual(JSON.parse(http.body!));
    }
  });
});
