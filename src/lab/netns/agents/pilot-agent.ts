// A stand-in for pilot-agent's two local ports, until the lab runs the real one: one process per
// meshed pod, beside its Envoy, in the pod's namespace as the proxy uid.
//   15020 (0.0.0.0): /healthz/ready (Envoy's 15021 routes here, as in Istio's bootstrap) answers
//         200 once Envoy's admin says LIVE, 503 before; /stats/prometheus is Envoy's own
//         (pilot-agent merges the app's metrics in: the lab's apps have none).
//   15004 (127.0.0.1): the debug port, answering that it is the stand-in.
// Started by the lab as `node pilot-agent.mjs` (bundled from this file).
import { createServer, request } from 'node:http';

const ADMIN = 'http://127.0.0.1:15000';

function fromEnvoy(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(`${ADMIN}${path}`, { timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}

createServer((req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/healthz/ready')) {
    void fromEnvoy('/ready').then((r) => res.writeHead(r.status === 200 && r.body.trim() === 'LIVE' ? 200 : 503).end());
    return;
  }
  if (url.startsWith('/stats/prometheus')) {
    void fromEnvoy('/stats/prometheus').then((r) => res.writeHead(r.status === 200 ? 200 : 503, { 'content-type': 'text/plain' }).end(r.body));
    return;
  }
  res.writeHead(404).end();
}).listen(15020, '0.0.0.0');

createServer((_req, res) => res.end('{"pilot-agent":"pathlab stand-in (15020, 15004)"}\n')).listen(15004, '127.0.0.1');
