// The lab's application process: one per pod, in the pod's namespace, as the app uid.
// It plays the workloads of the catalogue (Istio's test echo, hello-app, tcp-echo and the
// Bookinfo call graph) well enough to show a path: every HTTP answer says which pod and
// version answered and the peer address it saw (127.0.0.6 when a sidecar delivered it),
// and Bookinfo services call their upstreams by Service name like the real ones.
//
// Started by the lab as `node echo-app.mjs '<json config>'` (bundled from this file).
import { createServer as createHttpServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';

export interface EchoAppConfig {
  pod: string;
  namespace: string;
  /** echo | hello-app | tcp-echo | productpage | details | reviews-v1 | reviews-v2 | reviews-v3 | ratings | toolbox */
  workload: string;
  version: string;
  ports: Array<{ port: number; protocol: 'http' | 'https' | 'tcp' | 'mtls' }>;
  /**
   * For https and mtls ports: the files of the server's certificate and key (PEM; read at start,
   * so the key never travels in a process's arguments); for mtls, the CA its clients' certificates
   * must chain to.
   */
  tls?: { cert: string; key: string; ca?: string };
}

function remote(sock: Socket): string {
  return `${sock.remoteAddress?.replace(/^::ffff:/, '') ?? '?'}:${sock.remotePort ?? 0}`;
}

function echoBody(cfg: EchoAppConfig, req: IncomingMessage, port: number): string {
  return [
    `ServiceVersion=${cfg.version}`,
    `ServicePort=${port}`,
    `Host=${req.headers.host ?? ''}`,
    `URL=${req.url ?? '/'}`,
    `Method=${req.method ?? ''}`,
    `Hostname=${cfg.pod}`,
    `Namespace=${cfg.namespace}`,
    `RemoteAddr=${remote(req.socket)}`,
    '',
  ].join('\n');
}

function get(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: `error: ${e.message}` }));
    req.end();
  });
}

type Handler = (req: IncomingMessage, res: ServerResponse, port: number) => Promise<void> | void;

function send(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function handlerFor(cfg: EchoAppConfig): Handler {
  const bookinfoId = (url: string | undefined) => /\/(\d+)$/.exec(url ?? '')?.[1] ?? '0';
  switch (cfg.workload) {
    case 'hello-app':
      return (_req, res) => send(res, 200, `Hello, world!\nVersion: 1.0.0\nHostname: ${cfg.pod}\n`);
    case 'details':
      return (req, res) =>
        send(res, 200, JSON.stringify({ id: Number(bookinfoId(req.url)), author: 'William Shakespeare', type: 'paperback', pod: cfg.pod, peer: remote(req.socket) }), 'application/json');
    case 'ratings':
      return (req, res) =>
        send(res, 200, JSON.stringify({ id: Number(bookinfoId(req.url)), ratings: { Reviewer1: 5, Reviewer2: 4 }, pod: cfg.pod, peer: remote(req.socket) }), 'application/json');
    case 'reviews-v1':
    case 'reviews-v2':
    case 'reviews-v3':
      return async (req, res) => {
        const id = bookinfoId(req.url);
        const ratings = cfg.workload === 'reviews-v1' ? undefined : await get(`http://ratings:9080/ratings/${id}`);
        send(
          res,
          200,
          JSON.stringify({ id, podname: cfg.pod, peer: remote(req.socket), ratingsStatus: ratings?.status ?? null, ratings: ratings ? safeJson(ratings.body) : null }),
          'application/json',
        );
      };
    case 'productpage':
      return async (req, res) => {
        if (!(req.url ?? '').startsWith('/productpage')) return send(res, 404, 'not found\n');
        const [details, reviews] = await Promise.all([get('http://details:9080/details/0'), get('http://reviews:9080/reviews/0')]);
        send(
          res,
          200,
          `<html><head><title>Simple Bookstore App</title></head><body>\n` +
            `<pre id="details" data-status="${details.status}">${details.body}</pre>\n` +
            `<pre id="reviews" data-status="${reviews.status}">${reviews.body}</pre>\n` +
            `<pre id="peer">${remote(req.socket)}</pre>\n</body></html>\n`,
          'text/html',
        );
      };
    default:
      return async (req, res, port) => {
        // Istio's echo: `?call=http://host:port/path` makes this pod call an upstream too.
        const call = new URL(req.url ?? '/', 'http://x').searchParams.get('call');
        let body = echoBody(cfg, req, port);
        if (call) {
          const up = await get(call);
          body += `Upstream=${call} Status=${up.status}\n${up.body.replace(/^/gm, '  ')}\n`;
        }
        send(res, 200, body);
      };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function serveTcp(cfg: EchoAppConfig, port: number, listening: () => void): void {
  // tcp-echo's protocol: every line comes back prefixed; the first line names who answered.
  createTcpServer((sock) => {
    sock.write(`hello from ${cfg.pod} port ${port} (peer ${remote(sock)})\n`);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        sock.write(`hello ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
    sock.on('error', () => sock.destroy());
  }).listen(port, '0.0.0.0', listening);
}

/** The PEM of the config's TLS files. */
function readTls(cfg: EchoAppConfig): { cert: string; key: string; ca?: string } {
  const t = cfg.tls!;
  return { cert: readFileSync(t.cert, 'utf8'), key: readFileSync(t.key, 'utf8'), ...(t.ca ? { ca: readFileSync(t.ca, 'utf8') } : {}) };
}

/** Istio's ALPN on mTLS between sidecars, then the plain protocols. */
const MESH_ALPN = ['istio-peer-exchange', 'istio', 'istio-http/1.1', 'istio-http/1.0', 'istio-h2', 'h2', 'http/1.1'];

/**
 * A meshed workload as its peers' sidecars see it: TLS with its certificate, a client
 * certificate of the lab's CA required, Istio's ALPN accepted; inside, HTTP (answered as the
 * echo app answers, its RemoteAddr the peer sidecar's) or, when the first bytes are not an HTTP
 * request line, the TCP greeting.
 */
function serveMtls(cfg: EchoAppConfig, port: number, serve: (req: IncomingMessage, res: ServerResponse) => void, listening: () => void): void {
  const http = createHttpServer(serve);
  const files = readTls(cfg);
  const tls = createTlsServer({ cert: files.cert, key: files.key, ca: files.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: MESH_ALPN }, (sock) => {
    sock.once('data', (first: Buffer) => {
      sock.pause();
      sock.unshift(first);
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(first.toString('latin1').split('\n')[0] + '\n')) {
        http.emit('connection', sock);
        sock.resume();
      } else {
        sock.resume();
        sock.write(`hello from ${cfg.pod} port ${port} (peer ${remote(sock)})\n`);
        sock.on('data', (d: Buffer) => sock.write(`hello ${d.toString('utf8')}`));
      }
    });
    sock.on('error', () => sock.destroy());
  });
  tls.listen(port, '0.0.0.0', listening);
}

export function startEchoApp(cfg: EchoAppConfig): void {
  const handle = handlerFor(cfg);
  // One line when every port listens: what a container's wait strategy waits for.
  let waiting = cfg.ports.length;
  const listening = () => {
    if (--waiting === 0) console.log(`echo-app ${cfg.pod}: listening on ${cfg.ports.map((p) => `${p.port}/${p.protocol}`).join(' ')}`);
  };
  for (const p of cfg.ports) {
    if (p.protocol === 'tcp') {
      serveTcp(cfg, p.port, listening);
      continue;
    }
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      Promise.resolve(handle(req, res, p.port)).catch((e: unknown) => send(res, 500, `${String(e)}\n`));
    };
    if (p.protocol === 'mtls') {
      serveMtls(cfg, p.port, serve, listening);
      continue;
    }
    const tls = p.protocol === 'https' && cfg.tls ? readTls(cfg) : undefined;
    const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, serve) : createHttpServer(serve);
    server.keepAliveTimeout = 1000;
    server.listen(p.port, '0.0.0.0', listening);
  }
}

if (process.argv[2] !== undefined && process.argv[1]?.includes('echo-app')) {
  startEchoApp(JSON.parse(process.argv[2]) as EchoAppConfig);
}
