/**
 * TLS session resumption on gatehouse's mTLS listener: a client that offers the TLS 1.3 session
 * ticket from its first connection resumes (no full handshake) on the next one, and the resumed
 * connection still carries its own client certificate: the allow-list (tls_allowed_clients, judged
 * from the peer certificate per Check) admits the allowed caller and denies the other one on their
 * resumed connections. Two app instances given the same AppDeps.tlsTicketKeys (as worker processes
 * are) resume each other's sessions; without shared keys they do not. Rotating the client CA file
 * makes earlier tickets unusable. Real certificates from openssl, real TLS (node:tls / node:http2).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { Writable } from 'node:stream';
import tls, { type TLSSocket } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { structToJson } from '../../src/authz/proto-json.js';
import { loadConfig } from '../../src/config/load.js';
import { authzProtos, CHECK_METHOD_PATH } from '../../src/grpc/protos.js';
import { eventually } from '../support/app.js';
import { createCa, issueLeaf, issueSvid, type Ca } from '../support/pki.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { framed } from '../support/raw-grpc.js';
import { CHECKOUT, checkRequestJson, encodeRequest } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const INVENTORY_ENVOY = 'spiffe://mesh.local/ns/shop/sa/inventory';
const SERVER_SANS = 'subjectAltName=URI:spiffe://mesh.local/ns/gatehouse/sa/gatehouse,DNS:localhost,IP:127.0.0.1';

interface Visit {
  resumed: boolean;
  /** The TLS session to offer next time (the last ticket the server sent). */
  session: Buffer | undefined;
  allowed: boolean | undefined;
  reasonCode: unknown;
}

/** One connection: TLS (offering `session`), one Check over HTTP/2, then close. */
async function visit(port: number, ca: Ca, client: { cert: string; key: string }, session?: Buffer): Promise<Visit> {
  let socket: TLSSocket | undefined;
  let ticket: Buffer | undefined;
  const h2 = http2.connect(`https://localhost:${port}`, {
    createConnection: () => {
      socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key), session });
      socket.on('session', (s: Buffer) => (ticket = s));
      return socket;
    },
  });
  try {
    const reply = await new Promise<Record<string, any> | undefined>((resolve, reject) => {
      h2.on('error', reject);
      const stream = h2.request({ ':method': 'POST', ':path': CHECK_METHOD_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      const data: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => data.push(chunk));
      stream.on('error', reject);
      stream.on('close', () => {
        const body = Buffer.concat(data);
        resolve(body.length > 5 ? (authzProtos().decodeCheckResponse(body.subarray(5)) as Record<string, any>) : undefined);
      });
      stream.end(framed(encodeRequest(checkRequestJson({ source: CHECKOUT }))));
    });
    // TLS 1.3 tickets arrive after the handshake; the Check's round trip is long enough for them.
    const metadata = reply?.dynamicMetadata ? (structToJson(reply.dynamicMetadata) as Record<string, unknown>) : {};
    return { resumed: socket!.isSessionReused(), session: ticket, allowed: reply ? reply.status?.code === 0 || reply.status?.code === undefined : undefined, reasonCode: metadata.reason_code };
  } finally {
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  }
}

describe.skipIf(tool.skip)('TLS session resumption on the mTLS listener', () => {
  let dir: string;
  let ca: Ca;
  let caFile: string;
  let inventory: { cert: string; key: string };
  let rogue: { cert: string; key: string };
  const apps: RunningApp[] = [];
  const logs: string[] = [];

  const start = async (ticketKeys?: Buffer) => {
    const server = issueLeaf(dir, `server-${apps.length}`, ca, SERVER_SANS, 'basicConstraints=critical,CA:FALSE');
    const config = loadConfig({
      flags: {
        addr: '127.0.0.1:0', 'admin-addr': '127.0.0.1:0', bundle: buildExampleBundle(tool.opa, dir), 'decision-log': 'off',
        'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-client-ca-file': caFile,
        'tls-allowed-clients': INVENTORY_ENVOY, 'tls-reload-interval-ms': '100',
      },
      env: {},
    });
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (logs.push(String(chunk)), done()) }));
    const app = await startApp(config, { logger, tlsTicketKeys: ticketKeys });
    apps.push(app);
    return app;
  };

  beforeAll(() => {
    dir = tempDir('gatehouse-resume-');
    ca = createCa(dir, 'mesh-ca', 'mesh.local');
    caFile = path.join(dir, 'client-ca.pem');
    copyFileSync(ca.cert, caFile);
    inventory = issueSvid(dir, 'inventory-envoy', INVENTORY_ENVOY, ca);
    rogue = issueSvid(dir, 'rogue', 'spiffe://mesh.local/ns/shop/sa/rogue', ca);
  });
  afterAll(async () => {
    for (const app of apps) await app.stop();
  });

  it('resumes a session and the resumed connection keeps its own client certificate', async () => {
    const app = await start();
    const first = await visit(app.grpcPort, ca, inventory);
    expect(first).toMatchObject({ resumed: false, allowed: true });
    expect(first.session).toBeInstanceOf(Buffer);
    const again = await visit(app.grpcPort, ca, inventory, first.session);
    expect(again).toMatchObject({ resumed: true, allowed: true });

    // The caller the allow-list does not name is denied on its resumed connection too.
    const rogueFirst = await visit(app.grpcPort, ca, rogue);
    expect(rogueFirst).toMatchObject({ resumed: false, allowed: false, reasonCode: 'client_not_allowed' });
    const rogueAgain = await visit(app.grpcPort, ca, rogue, rogueFirst.session);
    expect(rogueAgain).toMatchObject({ resumed: true, allowed: false, reasonCode: 'client_not_allowed' });
  });

  it('resumes on another instance given the same ticket keys, and not without them', async () => {
    const keys = randomBytes(48);
    const a = await start(keys);
    const b = await start(keys);
    const lone = await start();
    const first = await visit(a.grpcPort, ca, inventory);
    expect(first.resumed).toBe(false);
    expect(await visit(b.grpcPort, ca, inventory, first.session)).toMatchObject({ resumed: true, allowed: true });
    // Another instance without the keys cannot read the ticket: a full handshake, still served.
    expect(await visit(lone.grpcPort, ca, inventory, first.session)).toMatchObject({ resumed: false, allowed: true });
  });

  it('does not resume a ticket issued before the client CA file changed', async () => {
    const app = await start(randomBytes(48));
    const first = await visit(app.grpcPort, ca, inventory);
    expect(await visit(app.grpcPort, ca, inventory, first.session)).toMatchObject({ resumed: true });
    const reloads = logs.length;
    // Another CA added to the file: a different bundle, so a different ticket key.
    appendFileSync(caFile, readFileSync(createCa(dir, 'other-ca', 'other.example').cert));
    await eventually(() => logs.slice(reloads).some((line) => line.includes('serving certificate rotated')), 10_000);
    // The listener applies the new context right after the reload is logged.
    await eventually(async () => !(await visit(app.grpcPort, ca, inventory, first.session)).resumed, 5_000);
    const after = await visit(app.grpcPort, ca, inventory, first.session);
    expect(after).toMatchObject({ resumed: false, allowed: true });
    expect(await visit(app.grpcPort, ca, inventory, after.session)).toMatchObject({ resumed: true, allowed: true });
  });
});
