/**
 * The trace a checked request belongs to, from its W3C `traceparent`
 * (https://www.w3.org/TR/trace-context/#traceparent-header) or B3 headers
 * (https://github.com/openzipkin/b3-propagation), so a decision-log line can be joined to the
 * trace. A malformed header is ignored, never an error.
 */

export interface TraceContext {
  trace_id: string;
  span_id: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZEROS = /^0+$/;

export function traceContext(headers: Record<string, string> | undefined): TraceContext | undefined {
  if (!headers) return undefined;
  return fromTraceparent(headers.traceparent) ?? fromB3Single(headers.b3) ?? fromB3Multi(headers['x-b3-traceid'], headers['x-b3-spanid']);
}

function fromTraceparent(value: string | undefined): TraceContext | undefined {
  const match = value === undefined ? null : TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId] = match;
  // Version ff is invalid; version 00 allows nothing after the flags.
  if (version === 'ff' || (version === '00' && match[5] !== undefined)) return undefined;
  if (ZEROS.test(traceId!) || ZEROS.test(spanId!)) return undefined;
  return { trace_id: traceId!, span_id: spanId! };
}

/** `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]` */
function fromB3Single(value: string | undefined): TraceContext | undefined {
  if (value === undefined) return undefined;
  const [traceId, spanId] = value.trim().split('-');
  return fromB3Multi(traceId, spanId);
}

function fromB3Multi(traceId: string | undefined, spanId: string | undefined): TraceContext | undefined {
  if (traceId === undefined || spanId === undefined) return undefined;
  const trace = traceId.trim().toLowerCase();
  const span = spanId.trim().toLowerCase();
  if (!(HEX16.test(trace) || HEX32.test(trace)) || !HEX16.test(span) || ZEROS.test(trace) || ZEROS.test(span)) return undefined;
  return { trace_id: trace.padStart(32, '0'), span_id: span };
}
