/**
 * The primary's end of the decision log: batches of whole lines from the workers are written to
 * the sink `decision_log` names (openDecisionLogSink), bounded as in a single process: a sink that
 * cannot keep up drops the batch (whole lines), counted in gatehouse_decision_log_lines_total.
 */
import { closeSink, watchSink, type LineSink } from '../observability/log-sink.js';
import type { Logger } from '../observability/logger.js';
import type { GatehouseMetrics } from '../observability/metrics.js';

/** After a sink error, batches are dropped without trying for this long, then the sink is reopened. */
const SINK_RETRY_MS = 10_000;

export class DecisionLogRelay {
  readonly #sink: LineSink | undefined;
  readonly #metrics: GatehouseMetrics;
  readonly #onSinkError: (error: Error | undefined) => void;
  #dropped = false;
  #failedAtMs: number | undefined;
  #lastReportMs = 0;

  constructor(sink: LineSink | undefined, metrics: GatehouseMetrics, logger: Logger, target: string) {
    this.#sink = sink;
    this.#metrics = metrics;
    this.#onSinkError = (error) => {
      const now = Date.now();
      if (now - this.#lastReportMs < 60_000) return;
      this.#lastReportMs = now;
      logger.error({ error: error?.message, decision_log: target }, 'the decision-log sink failed; lines are dropped and counted');
    };
    watchSink(
      sink,
      () => (this.#dropped = true),
      (error) => {
        this.#dropped = true;
        this.#failedAtMs = Date.now();
        this.#onSinkError(error);
      },
    );
  }

  /** `text`: `count` whole lines, each ending in "\n". */
  write(text: string, count: number): void {
    const sink = this.#sink;
    if (!sink) return;
    if (this.#failedAtMs !== undefined) {
      if (Date.now() - this.#failedAtMs < SINK_RETRY_MS) {
        this.#metrics.recordLogLine('dropped', count);
        return;
      }
      this.#failedAtMs = undefined;
      try {
        sink.reopen?.();
      } catch {
        // The next write fails and reports again.
      }
    }
    this.#dropped = false;
    try {
      sink.write(text);
    } catch (error) {
      this.#dropped = true;
      this.#onSinkError(error as Error);
    }
    this.#metrics.recordLogLine(this.#dropped ? 'dropped' : 'written', count);
  }

  /** Flush, waiting at most `timeoutMs`; a stalled sink is then discarded (as DecisionLog.close). */
  close(timeoutMs: number): Promise<'flushed' | 'timed_out'> {
    return closeSink(this.#sink, timeoutMs);
  }
}
