/** A real grpc-js client for the Authorization and Health services. */
import { credentials, makeGenericClientConstructor, type Channel, type ChannelCredentials, type Client } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { structToJson } from '../../src/authz/proto-json.js';
import { AUTHORIZATION_SERVICE } from '../../src/grpc/check-service.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { encodeRequest } from './requests.js';

export interface CheckReply {
  allowed: boolean;
  rpcCode: number;
  httpStatus: number | undefined;
  body: string | undefined;
  headers: Record<string, string>;
  appendActions: string[];
  metadata: Record<string, unknown>;
  raw: Record<string, unknown>;
}

const AuthorizationClient = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');
const HealthClient = makeGenericClientConstructor(healthService, 'Health');

export class TestClient {
  readonly #authz: Client & Record<string, Function>;
  readonly #health: Client & Record<string, Function>;

  constructor(target: string, channelCredentials: ChannelCredentials = credentials.createInsecure(), options: Record<string, unknown> = {}) {
    this.#authz = new AuthorizationClient(target, channelCredentials, options) as never;
    this.#health = new HealthClient(target, channelCredentials, options) as never;
  }

  /** Sends raw bytes (to test malformed requests) or a proto JSON request. */
  check(request: Buffer | Record<string, unknown>): Promise<CheckReply> {
    const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
    return new Promise((resolve, reject) => {
      this.#authz.Check(bytes, (error: Error | null, reply: Buffer) => {
        if (error) reject(error);
        else resolve(decodeReply(reply));
      });
    });
  }

  health(service = ''): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#health.check({ service }, (error: Error | null, reply: { status: string }) => {
        if (error) reject(error);
        else resolve(reply.status);
      });
    });
  }

  /** The Authorization client's channel, to watch its connectivity (a GOAWAY turns READY to IDLE). */
  channel(): Channel {
    return this.#authz.getChannel();
  }

  close(): void {
    this.#authz.close();
    this.#health.close();
  }
}

function decodeReply(bytes: Buffer): CheckReply {
  const raw = authzProtos().decodeCheckResponse(bytes) as Record<string, any>;
  const ok = raw.okResponse;
  const denied = raw.deniedResponse;
  const headerList: { header: { key: string; value: string }; appendAction?: string }[] = (ok ?? denied)?.headers ?? [];
  const headers: Record<string, string> = {};
  for (const h of headerList) headers[h.header.key] = h.header.value;
  return {
    allowed: (raw.status?.code ?? 0) === 0,
    rpcCode: raw.status?.code ?? 0,
    httpStatus: denied ? Number(denied.status?.code === undefined ? 0 : httpCode(denied.status.code)) : undefined,
    body: denied?.body,
    headers,
    appendActions: headerList.map((h) => h.appendAction ?? 'unset'),
    metadata: structToJson(raw.dynamicMetadata),
    raw,
  };
}

/** Envoy's HttpStatus enum decodes by name; map names back to numbers via the enum. */
function httpCode(code: string | number): number {
  if (typeof code === 'number') return code;
  const enumType = authzProtos().root.lookupEnum('envoy.type.v3.StatusCode');
  return enumType.values[code] ?? NaN;
}
