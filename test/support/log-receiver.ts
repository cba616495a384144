/**
 * A local decision-log service for tests: accepts OPA decision-log uploads (POST <base>/logs, a
 * gzip-compressed JSON array) on 127.0.0.1, decodes them with node:zlib, and can be told to fail:
 * answer 500, hang (never answer), or be down (not listening).
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type ReceiverMode = 'ok' | 'error500' | 'hang';

export interface ReceivedUpload {
  path: string;
  headers: http.IncomingHttpHeaders;
  events: Record<string, any>[];
  /** The client certificate's subject CN, with mTLS. */
  clientCn?: string;
}

export class LogReceiver {
  mode: ReceiverMode = 'ok';
  readonly uploads: ReceivedUpload[] = [];
  /** Requests answered 500 or left hanging. */
  refused = 0;
  #server: http.Server;
  #hanging: http.ServerResponse[] = [];
  port = 0;

  constructor(tls?: https.ServerOptions) {
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) => this.#handle(request, response);
    this.#server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  get events(): Record<string, any>[] {
    return this.uploads.flatMap((upload) => upload.events);
  }

  /** Listens on `port` (0: any free port) at 127.0.0.1. */
  async listen(port = this.port): Promise<this> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and drops every open connection (the service goes down). */
  async close(): Promise<void> {
    for (const response of this.#hanging) response.destroy();
    this.#hanging = [];
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  /** Answers the requests left hanging with 500 (the service recovers from a stall). */
  releaseHanging(): void {
    for (const response of this.#hanging) response.writeHead(500).end('was hanging');
    this.#hanging = [];
  }

  #handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (this.mode === 'error500') {
        this.refused++;
        response.writeHead(500).end('receiver told to fail');
        return;
      }
      if (this.mode === 'hang') {
        this.refused++;
        this.#hanging.push(response);
        return;
      }
      const body = Buffer.concat(chunks);
      const text = request.headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString('utf8') : body.toString('utf8');
      const events = JSON.parse(text) as Record<string, any>[];
      const socket = request.socket as import('node:tls').TLSSocket;
      const clientCn = typeof socket.getPeerCertificate === 'function' ? (socket.getPeerCertificate()?.subject?.CN as string | undefined) : undefined;
      this.uploads.push({ path: request.url ?? '', headers: request.headers, events, clientCn });
      response.writeHead(200).end();
    });
  }
}
