// The floor: a grpc-js server answering every Check with the same pre-encoded OK CheckResponse,
// doing no work at all (no decoding, no policy). Same grpc-js version and server options as
// gatehouse, so the difference between the two is what gatehouse does per Check.
// Usage: node bench/noop-server.mjs PORT
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { authzProtos, CHECK_METHOD_PATH } from '../dist/grpc/protos.js';

const identity = (bytes) => bytes;
const OK = authzProtos().encodeCheckResponse({ status: { code: 0 }, okResponse: {} });
const server = new Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.http2.min_ping_interval_without_data_ms': 10_000, 'grpc.enable_channelz': 0 });
server.addService(
  { Check: { path: CHECK_METHOD_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
  { Check: (_call, callback) => callback(null, OK) },
);
server.bindAsync(`127.0.0.1:${process.argv[2] ?? 0}`, ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stderr.write(`noop-server is serving on 127.0.0.1:${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.forceShutdown() || process.exit(0));
