/**
 * A Check call written byte by byte over node:http2, for framing grpc-js' client never produces:
 * compressed flags, cut-short or repeated messages, a stream that stays open, a cancel.
 */
import http2 from 'node:http2';
import { structToJson } from '../../src/authz/proto-json.js';
import { authzProtos, CHECK_METHOD_PATH } from '../../src/grpc/protos.js';

export interface RawReply {
  grpcStatus: string | undefined;
  /** The decoded CheckResponse, when one came. */
  response: Record<string, any> | undefined;
  metadata: Record<string, unknown>;
  /** Whether the response had arrived before this side ended its stream (`end: false` calls). */
  beforeEnd: boolean;
}

/** The 5-byte gRPC message prefix. */
export function prefix(length: number, flag = 0): Buffer {
  const out = Buffer.alloc(5);
  out[0] = flag;
  out.writeUInt32BE(length >>> 0, 1);
  return out;
}

export function framed(message: Buffer, flag = 0): Buffer {
  return Buffer.concat([prefix(message.length, flag), message]);
}

/**
 * Sends `chunks` on one Check stream. `end: false` leaves the stream open until the response
 * arrives (then resets it); `cancel` resets the stream right after writing the chunks.
 */
export function rawCheck(
  port: number,
  options: { chunks: Buffer[]; headers?: Record<string, string>; end?: boolean; cancel?: boolean; timeoutMs?: number },
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': CHECK_METHOD_PATH, 'content-type': 'application/grpc', te: 'trailers', ...options.headers });
    const data: Buffer[] = [];
    let status: string | undefined;
    let ended = false;
    let beforeEnd = false;
    const timer = setTimeout(() => finish(), options.timeoutMs ?? 20_000);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      session.close();
      const body = Buffer.concat(data);
      const response = body.length >= 5 ? (authzProtos().decodeCheckResponse(body.subarray(5)) as Record<string, any>) : undefined;
      const metadata = response?.dynamicMetadata ? (structToJson(response.dynamicMetadata) as Record<string, unknown>) : {};
      resolve({ grpcStatus: status, response, metadata, beforeEnd });
    };
    stream.on('response', (headers) => (status ??= headers['grpc-status'] as string | undefined));
    stream.on('trailers', (trailers) => {
      status = trailers['grpc-status'] as string | undefined;
      if (!ended) {
        beforeEnd = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    stream.on('data', (chunk: Buffer) => data.push(chunk));
    stream.on('error', () => undefined);
    stream.on('close', finish);
    void (async () => {
      for (const chunk of options.chunks) {
        if (stream.destroyed) return;
        if (!stream.write(chunk)) await new Promise((resolve) => (stream.once('drain', resolve), stream.once('close', resolve)));
      }
      if (options.cancel) stream.close(http2.constants.NGHTTP2_CANCEL);
      else if (options.end !== false) {
        ended = true;
        stream.end();
      }
    })();
  });
}
