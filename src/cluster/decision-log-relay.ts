/**
 * The primary's end of the decision log: batches of whole lines from the workers are written to
 * the sink `decision_log` names (openDecisionLogSink), bounded as in a single process: a sink that
 * cannot keep up drops the batch (whole lines), counted in gatehouse_decision_log_lines_total.
 */
import { closeSink, GuardedSink, type LineSink } from '../observability/log-sink.js';
import type { Logger } from '../observability/logger.js';
import type { GatehouseMetrics } from '../observability/metrics.js';

export class DecisionLogRelay {
  readonly #sink: LineSink | undefined;
  readonly #guard: GuardedSink | undefined;
  readonly #metrics: GatehouseMetrics;

  constructor(sink: LineSink | undefined, metrics: GatehouseMetrics, logger: Logger, target: string) {
    this.#sink = sink;
    this.#metrics = metrics;
    this.#guard =
      sink && new GuardedSink(sink, (error) => logger.error({ error: error?.message, decision_log: target }, 'the decision-log sink failed; lines are dropped and counted'));
  }

  /** `text`: `count` whole lines, each ending in "\n". */
  write(text: string, count: number): void {
    if (this.#guard) this.#metrics.recordLogLine(this.#guard.write(text), count);
  }

  /** Flush, waiting at most `timeoutMs`; a stalled sink is then discarded (as DecisionLog.close). */
  close(timeoutMs: number): Promise<'flushed' | 'timed_out'> {
    return closeSink(this.#sink, timeoutMs);
  }
}
