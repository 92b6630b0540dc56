// The sidecar model: one process per meshed pod of the netns lab, in the pod's namespace,
// running as the proxy uid (so the kernel's owner rules treat its upstream connections as
// Envoy's). It listens where istio-proxy does and decides every connection with the same
// matcher `pathlab explain` uses, on the listener table it serves at /config_dump:
//   15001 outbound: SO_ORIGINAL_DST → listener → filter chain → cluster → upstream or answer
//   15006 inbound: the same through virtualInbound, delivered to the app from 127.0.0.6
//   15000 admin (127.0.0.1), 15004 agent debug (127.0.0.1), 15020, 15021, 15090
// Between two meshed pods the upstream leg is TLS with the lab CA (ALPN istio-peer-exchange,
// istio), so a capture on eth0 sees TLS and one on lo sees plaintext, as with real Istio.
//
// The scope of the model: tcp_proxy and the first request of an HTTP connection (routing is
// per connection), TLS origination/termination for mesh traffic, no retries, no HTTP/2.
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { parseConfigDump } from '../../../mesh/envoy/config-dump-parser.ts';
import { matchConnection, type EnvoyMatch } from '../../../mesh/envoy/match-connection.ts';
import type { Payload } from '../../../mesh/envoy/first-bytes.ts';
import { looksLikeTls, parseClientHello } from './client-hello.ts';
import { loadGetsockopt, originalDst, socketFd } from './original-dst.ts';

export interface SidecarConfig {
  pod: string;
  namespace: string;
  podIp: string;
  /** A file inside the project: where koffi is resolved from (the model runs from a bundle). */
  requireFrom: string;
  /** The config_dump this sidecar enforces (a synthesized one, in Envoy's v3 shape). */
  configDumpFile: string;
  /** Endpoints per cluster name ("ip:port"), as EDS would deliver them. */
  endpoints: Record<string, string[]>;
  /** Pod IPs that have a sidecar: upstream legs to them are mTLS (Istio's auto mTLS). */
  meshedIps: string[];
  tls: { ca: string; cert: string; key: string };
  accessLog: string;
  /** How long the listener filters wait for the client's first bytes. */
  detectionTimeoutMs?: number;
}

export const SIDECAR_PORTS = {
  admin: 15000,
  outbound: 15001,
  agentDebug: 15004,
  inbound: 15006,
  mergedMetrics: 15020,
  health: 15021,
  prometheus: 15090,
} as const;

/** ALPN Istio's client sidecars offer on mTLS: TCP traffic, and HTTP/1.1 carried inside. */
export const ISTIO_PEER_ALPN = ['istio-peer-exchange', 'istio'];
export const ISTIO_HTTP_ALPN = ['istio-http/1.1'];
/** Envoy's inbound clusters bind this source when they connect to the app. */
export const INBOUND_PASSTHROUGH_SOURCE = '127.0.0.6';

interface Counters {
  [key: string]: number;
}

export function startSidecar(cfg: SidecarConfig, sidecarConfigFile: string): void {
  // SO_ORIGINAL_DST is the sidecar's whole job: without it, it must not run at all (the lab then
  // reports it as not running, with this line of its log), rather than proxy to the wrong place.
  loadGetsockopt(cfg.requireFrom);
  // The listener table, re-read on SIGHUP: the lab pushes a new one after a setup step,
  // as istiod pushes LDS/CDS; /server_info says which one is in force.
  let dumpText = readFileSync(cfg.configDumpFile, 'utf8');
  let envoy = parseConfigDump(JSON.parse(dumpText));
  let configSha = createHash('sha256').update(dumpText).digest('hex').slice(0, 16);
  let endpoints = cfg.endpoints;
  process.on('SIGHUP', () => {
    try {
      const text = readFileSync(cfg.configDumpFile, 'utf8');
      envoy = parseConfigDump(JSON.parse(text));
      dumpText = text;
      configSha = createHash('sha256').update(text).digest('hex').slice(0, 16);
      const fresh = JSON.parse(readFileSync(sidecarConfigFile, 'utf8')) as SidecarConfig;
      endpoints = fresh.endpoints;
    } catch (e) {
      process.stderr.write(`sidecar: keeping the old config: ${String(e)}\n`);
    }
  });
  const tlsFiles = { ca: readFileSync(cfg.tls.ca), cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) };
  const meshed = new Set(cfg.meshedIps);
  const counters: Counters = {};
  const bump = (k: string) => (counters[k] = (counters[k] ?? 0) + 1);
  const detectionTimeout = cfg.detectionTimeoutMs;

  function log(entry: Record<string, unknown>): void {
    appendFileSync(cfg.accessLog, `${JSON.stringify(entry)}\n`);
  }

  function handle(sock: Socket, capturePort: number): void {
    const started = Date.now();
    let orig;
    try {
      orig = originalDst(socketFd(sock as never), cfg.requireFrom);
    } catch {
      orig = undefined;
    }
    // A direct connection to the port (no REDIRECT) keeps its own destination, as in Envoy.
    const dst = orig ?? { ip: sock.localAddress?.replace(/^::ffff:/, '') ?? '0.0.0.0', port: sock.localPort ?? capturePort };
    const src = sock.remoteAddress?.replace(/^::ffff:/, '') ?? '0.0.0.0';
    const base = { src, srcPort: sock.remotePort ?? 0, dst, capturePort };
    const entry: Record<string, unknown> = {
      start_time: new Date(started).toISOString(),
      downstream_remote_address: `${src}:${sock.remotePort ?? 0}`,
      downstream_local_address: `${dst.ip}:${dst.port}`,
      bytes_received: 0,
      bytes_sent: 0,
    };
    let first: Buffer | undefined;
    let decided = false;
    const decide = (payload: Payload) => {
      if (decided) return;
      decided = true;
      const m = matchConnection(envoy, { ...base, payload });
      if (m.outcome.kind === 'waiting' && payload.kind === 'none') {
        decided = false;
        return;
      }
      act(m, payload);
    };
    const act = (m: EnvoyMatch, payload: Payload) => {
      entry.listener = m.listener;
      entry.filter_chain = m.filterChain;
      entry.upstream_cluster = m.cluster ?? '-';
      entry.response_flags = m.outcome.responseFlag;
      if (m.route) entry.route_name = m.route.route ?? '-';
      if (payload.kind === 'http') entry.authority = payload.host;
      if (m.listener) bump(`listener.${m.listener}.downstream_cx_total`);
      if (m.cluster) bump(`cluster.${m.cluster}.upstream_cx_total`);
      const finish = (extra: Record<string, unknown> = {}) => {
        log({ ...entry, ...extra, duration: Date.now() - started });
      };
      switch (m.outcome.kind) {
        case 'http-response': {
          const status = m.outcome.status ?? 400;
          const reason = { 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status] ?? 'Error';
          const body = `HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
          sock.end(body);
          finish({ response_code: status, response_code_details: m.outcome.responseCodeDetails ?? '-', bytes_sent: body.length, upstream_host: '-' });
          return;
        }
        case 'closed':
        case 'unknown':
        case 'waiting':
          sock.end();
          sock.destroy();
          finish({ upstream_host: '-' });
          return;
        case 'passthrough':
        case 'service': {
          const target = upstreamFor(m, dst);
          if (!target) {
            sock.end();
            sock.destroy();
            finish({ upstream_host: '-', response_flags: 'UH' });
            return;
          }
          proxy(sock, first, target, capturePort, m, finish);
          return;
        }
      }
    };
    const upstreamFor = (m: EnvoyMatch, orig: { ip: string; port: number }): { ip: string; port: number } | undefined => {
      if (m.outcome.kind === 'passthrough' || !m.cluster) return orig;
      if (m.cluster.startsWith('inbound|')) return { ip: cfg.podIp, port: orig.port };
      const eps = endpoints[m.cluster] ?? m.outcome.upstreamEndpoints ?? [];
      const pick = eps[Math.floor(Math.random() * eps.length)];
      if (!pick) return undefined;
      const i = pick.lastIndexOf(':');
      return { ip: pick.slice(0, i), port: Number(pick.slice(i + 1)) };
    };
    sock.on('error', () => sock.destroy());
    decide({ kind: 'none' });
    if (decided) return;
    // Istio's protocolDetectionTimeout is 0 by default: the inspectors wait for the client
    // for as long as it stays. With a timeout set, detection gives up and the bytes count
    // as raw TCP (continue_on_listener_filters_timeout).
    const timer =
      detectionTimeout === undefined ? undefined : setTimeout(() => decide({ kind: 'bytes', text: '' }), detectionTimeout);
    sock.once('end', () => {
      if (decided) return;
      if (timer) clearTimeout(timer);
      decided = true;
      sock.destroy();
      log({ ...entry, response_flags: '-', upstream_host: '-', duration: Date.now() - started });
    });
    sock.once('data', (chunk: Buffer) => {
      if (timer) clearTimeout(timer);
      sock.pause();
      first = chunk;
      entry.bytes_received = chunk.length;
      decide(payloadOf(chunk));
    });
  }

  function payloadOf(chunk: Buffer): Payload {
    if (looksLikeTls(chunk)) {
      const hello = parseClientHello(chunk);
      return { kind: 'tls', ...(hello?.sni ? { sni: hello.sni } : {}), alpn: hello?.alpn ?? [] };
    }
    const text = chunk.toString('latin1');
    const req = /^([A-Z]+) (\S+) HTTP\/1\.([01])\r?\n/.exec(text);
    if (req) {
      const host = /\r?\nhost:[ \t]*([^\r\n]*)/i.exec(text)?.[1]?.trim() ?? '';
      return { kind: 'http', host, path: req[2]!, method: req[1]!, version: req[3] === '0' ? '1.0' : '1.1' };
    }
    return { kind: 'bytes', text };
  }

  function proxy(
    down: Socket,
    first: Buffer | undefined,
    target: { ip: string; port: number },
    capturePort: number,
    m: EnvoyMatch,
    finish: (extra?: Record<string, unknown>) => void,
  ): void {
    const inbound = capturePort === SIDECAR_PORTS.inbound;
    const originateTls = !inbound && m.outcome.kind === 'service' && meshed.has(target.ip);
    const terminateTls = inbound && first !== undefined && looksLikeTls(first);
    let downstream: Socket = down;
    if (terminateTls) {
      down.unshift(first!);
      first = undefined;
      downstream = new TLSSocket(down, {
        isServer: true,
        ca: tlsFiles.ca,
        cert: tlsFiles.cert,
        key: tlsFiles.key,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: [...ISTIO_HTTP_ALPN, ...ISTIO_PEER_ALPN],
      });
      downstream.on('error', () => downstream.destroy());
    }
    const upstreamHost = `${target.ip}:${target.port}`;
    let upstream: Socket;
    if (originateTls) {
      upstream = tlsConnect({
        host: target.ip,
        port: target.port,
        ca: tlsFiles.ca,
        cert: tlsFiles.cert,
        key: tlsFiles.key,
        // The outbound chain was an HTTP connection manager: the inbound side must pick its
        // HTTP chain (ALPN istio-http/1.1), else its TCP one (istio-peer-exchange, istio).
        ALPNProtocols: m.route ? ISTIO_HTTP_ALPN : ISTIO_PEER_ALPN,
        servername: sniFor(m, target.port),
        checkServerIdentity: () => undefined,
      });
    } else {
      upstream = tcpConnect({
        host: target.ip,
        port: target.port,
        allowHalfOpen: true,
        ...(inbound ? { localAddress: INBOUND_PASSTHROUGH_SOURCE } : {}),
      });
    }
    let sent = 0;
    let received = first?.length ?? 0;
    let failed = false;
    upstream.on(originateTls ? 'secureConnect' : 'connect', () => {
      if (first) upstream.write(first);
      downstream.on('data', (d: Buffer) => (received += d.length));
      upstream.on('data', (d: Buffer) => (sent += d.length));
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
    upstream.on('error', () => {
      failed = true;
      downstream.destroy();
    });
    downstream.on('error', () => upstream.destroy());
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      finish({
        upstream_host: upstreamHost,
        upstream_transport: originateTls ? 'tls' : 'plaintext',
        bytes_received: received,
        bytes_sent: sent,
        ...(failed ? { response_flags: 'UF' } : {}),
      });
    };
    // pipe() carries each side's end (FIN) to the other; a side that closes for good takes
    // the other down once its data is written.
    upstream.on('close', () => {
      downstream.end();
      done();
    });
    downstream.on('close', () => {
      upstream.end();
      done();
    });
  }

  function sniFor(m: EnvoyMatch, port: number): string {
    // Envoy's SNI for ISTIO_MUTUAL: outbound_.<port>_.<subset>_.<host>, from the cluster name.
    const parts = (m.cluster ?? '').split('|');
    return parts.length === 4 ? `outbound_.${parts[1]}_.${parts[2]}_.${parts[3]}` : `outbound_.${port}_._.unknown`;
  }

  // Half-close passes through, as with tcp_proxy: a client that shuts down its sending side
  // (nc -N, nc -q) still reads the upstream's answer.
  createServer({ allowHalfOpen: true }, (s) => handle(s, SIDECAR_PORTS.outbound)).listen(SIDECAR_PORTS.outbound, '0.0.0.0');
  createServer({ allowHalfOpen: true }, (s) => handle(s, SIDECAR_PORTS.inbound)).listen(SIDECAR_PORTS.inbound, '0.0.0.0');

  const stats = () =>
    Object.entries(counters)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
  const prometheus = () =>
    Object.entries(counters)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `envoy_${k.replace(/[^a-zA-Z0-9_]/g, '_')} ${v}`)
      .join('\n');
  createHttpServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/config_dump')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(dumpText);
    if (url.startsWith('/stats/prometheus')) return void res.end(`${prometheus()}\n`);
    if (url.startsWith('/stats')) return void res.end(`${stats()}\n`);
    if (url.startsWith('/clusters')) {
      return void res.end(
        `${(envoy.clusters ?? []).map((c) => `${c.name}::default_priority::max_connections::4294967295\n${(endpoints[c.name] ?? []).map((e) => `${c.name}::${e}::health_flags::healthy`).join('\n')}`).join('\n')}\n`,
      );
    }
    if (url.startsWith('/ready')) return void res.end('LIVE\n');
    if (url.startsWith('/server_info')) {
      return void res.end(JSON.stringify({ state: 'LIVE', config_sha: configSha, node: { id: `sidecar~${cfg.podIp}~${cfg.pod}.${cfg.namespace}~${cfg.namespace}.svc.cluster.local` } }));
    }
    res.writeHead(404).end();
  }).listen(SIDECAR_PORTS.admin, '127.0.0.1');
  createHttpServer((_req, res) => res.end('{"pilot-agent":"pathlab sidecar model"}\n')).listen(SIDECAR_PORTS.agentDebug, '127.0.0.1');
  const health = createHttpServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/healthz/ready')) return void res.end();
    if (url.startsWith('/stats/prometheus')) return void res.end(`${prometheus()}\n`);
    res.writeHead(404).end();
  });
  health.listen(SIDECAR_PORTS.health, '0.0.0.0');
  createHttpServer((req, res) => {
    if ((req.url ?? '').startsWith('/healthz/ready')) return void res.end();
    res.end(`${prometheus()}\n`);
  }).listen(SIDECAR_PORTS.mergedMetrics, '0.0.0.0');
  createHttpServer((_req, res) => res.end(`${prometheus()}\n`)).listen(SIDECAR_PORTS.prometheus, '0.0.0.0');
}

if (process.argv[2] !== undefined && process.argv[1]?.includes('sidecar')) {
  startSidecar(JSON.parse(readFileSync(process.argv[2], 'utf8')) as SidecarConfig, process.argv[2]);
}
