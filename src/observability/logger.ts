/** The operational log (start-up, reloads, shutdown): pino JSON lines on stderr. */
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/schema.js';

export type { Logger } from 'pino';

export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination(2)): Logger {
  return pino({ level, base: { service: 'gatehouse' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
