// A local server that speaks the Kubernetes API for the calls a test's code makes: JSON over
// HTTP for the REST calls (the test's `route` answers them; anything else is a 404 Status, as
// kube-apiserver answers), and the exec API over WebSocket (v4.channel.k8s.io: channel 1 stdout,
// 2 stderr, the exit as a Status on channel 3), whose commands the test's `exec` answers. An
// exec the test refuses is answered as the API server refuses an upgrade: HTTP 403 with a Status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface PeerRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown> | undefined;
}
export type PeerAnswer = { code: number; body: unknown } | undefined;
export interface ExecCall {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}
export type ExecAnswer = { stdout?: string; stderr?: string; exit: number } | { forbidden: string };

export interface KubePeer {
  url: string;
  /** Every request, as `METHOD /path?query`, and every exec, as `EXEC container command…`. */
  seen: string[];
  close(): Promise<void>;
}

export const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

/** A string body is text (a pod's log), anything else JSON. */
function send(res: ServerResponse, a: { code: number; body: unknown }) {
  res.writeHead(a.code, { 'content-type': typeof a.body === 'string' ? 'text/plain' : 'application/json' });
  res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
}

async function bodyOf(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
}

export async function kubePeer(o: { route: (r: PeerRequest) => PeerAnswer | Promise<PeerAnswer>; exec?: (c: ExecCall) => ExecAnswer }): Promise<KubePeer> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${u.pathname}${u.search}`);
      const a = await o.route({ method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, body: await bodyOf(req) });
      send(res, a ?? { code: 404, body: status(404, 'NotFound', `not served here: ${req.method} ${u.pathname}`) });
    })();
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(u.pathname);
    const call: ExecCall = { namespace: m?.[1] ?? '', pod: m?.[2] ?? '', container: u.searchParams.get('container') ?? '', command: u.searchParams.getAll('command') };
    seen.push(`EXEC ${call.container} ${call.command.join(' ')}`);
    const a: ExecAnswer = m && o.exec ? o.exec(call) : { forbidden: 'no exec here' };
    if ('forbidden' in a) {
      const body = JSON.stringify(status(403, 'Forbidden', a.forbidden));
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const frame = (channel: number, data: string) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
      if (a.stdout) frame(1, a.stdout);
      if (a.stderr) frame(2, a.stderr);
      const done = a.exit === 0 ? { metadata: {}, status: 'Success' } : { metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(a.exit) }] } };
      frame(3, JSON.stringify(done));
      ws.close(1000);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
