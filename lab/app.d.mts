// Types for lab/app.mjs.
import type { IncomingHttpHeaders } from 'node:http';

export interface SeenRequest {
  method: string;
  /** The request target exactly as the application received it. */
  path: string;
  /** Where a lenient framework would route it (see lenientRoute). */
  route: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export declare function lenientRoute(rawPath: string): string;
export declare function startApp(name: string, port: number): Promise<{ name: string; port: number; seen: SeenRequest[]; close(): Promise<void> }>;
