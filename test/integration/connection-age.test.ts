/**
 * max_connection_age_ms: the server closes a client's connection gracefully (GOAWAY) once it is
 * that old, the client reconnects, and no Check in between fails. Observed through the client
 * channel's connectivity: READY → IDLE is a connection the server closed.
 */
import { connectivityState } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

/** Records every connectivity state the channel passes through, until it shuts down. */
function recordStates(client: TestClient): connectivityState[] {
  const channel = client.channel();
  const states: connectivityState[] = [channel.getConnectivityState(true)];
  const watch = (current: connectivityState) => {
    if (current === connectivityState.SHUTDOWN) return;
    channel.watchConnectivityState(current, Infinity, (error) => {
      if (error) return;
      const next = channel.getConnectivityState(false);
      states.push(next);
      watch(next);
    });
  };
  watch(states[0]!);
  return states;
}

/** How many times a READY connection was lost. */
const cycles = (states: connectivityState[]) => states.filter((s, i) => i > 0 && states[i - 1] === connectivityState.READY && s !== connectivityState.READY).length;

describe.skipIf(tool.skip)('max_connection_age_ms', () => {
  let t: TestApp | undefined;
  afterEach(async () => t?.stop());

  it('cycles a client connection (GOAWAY, reconnect) while every Check keeps being answered by the policy', async () => {
    // 200 ms is below what start-up accepts (10 s); set past validation to see two cycles quickly.
    t = await startTestApp({ bundle: buildExampleBundle(tool.opa, tempDir()), 'max-connection-age-grace-ms': '5000' }, { override: { max_connection_age_ms: 200 } });
    const states = recordStates(t.client);
    let answered = 0;
    // Checks back to back, alternating allow and deny, until the connection has been replaced twice.
    for (let i = 0; cycles(states) < 2; i++) {
      if (i > 20_000) throw new Error(`no connection cycled after ${i} Checks; states ${states.join(',')}`);
      const reply = await t.client.check(checkRequestJson({ source: i % 2 ? PAYMENTS : CHECKOUT, destination: INVENTORY }));
      expect(reply.allowed).toBe(i % 2 === 0);
      answered++;
    }
    // And after the last cycle the client is served on a fresh connection.
    expect((await t.client.check(checkRequestJson({ source: CHECKOUT, destination: INVENTORY }))).allowed).toBe(true);
    expect(t.client.channel().getConnectivityState(false)).toBe(connectivityState.READY);
    expect(answered).toBeGreaterThan(1);
    expect(t.decisions.every((d) => d.error === undefined)).toBe(true);
  });

  it('with 0 keeps the connection', async () => {
    t = await startTestApp({ bundle: buildExampleBundle(tool.opa, tempDir()), 'max-connection-age-ms': '0' });
    const states = recordStates(t.client);
    for (let i = 0; i < 200; i++) expect((await t.client.check(checkRequestJson({ source: CHECKOUT, destination: INVENTORY }))).allowed).toBe(true);
    expect(cycles(states)).toBe(0);
  });
});
