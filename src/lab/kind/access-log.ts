// Envoy access log lines in Istio's default TEXT format (meshConfig.accessLogFile with no
// accessLogFormat), parsed into fields. Istio's default format string is:
//   [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//   %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//   "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//   %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//   "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
//   %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//   %REQUESTED_SERVER_NAME% %ROUTE_NAME%
// A TCP connection (tcp_proxy) logs "- - -" and response code 0. "-" means "not set": it
// becomes undefined here.

export interface AccessLogEntry {
  startTime: string;
  /** undefined for TCP (tcp_proxy) lines. */
  method?: string;
  path?: string;
  protocol?: string;
  /** 0 for TCP. */
  responseCode: number;
  /** Envoy's response flags, e.g. ["UH"], ["NR"], ["UF","URX"]; [] when none. */
  responseFlags: string[];
  responseCodeDetails?: string;
  connectionTerminationDetails?: string;
  upstreamTransportFailureReason?: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs?: number;
  upstreamServiceTimeMs?: number;
  xForwardedFor?: string;
  userAgent?: string;
  requestId?: string;
  authority?: string;
  upstreamHost?: string;
  /** e.g. outbound|8000||httpbin.foo.svc.cluster.local, PassthroughCluster, BlackHoleCluster. */
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  downstreamLocalAddress?: string;
  downstreamRemoteAddress?: string;
  requestedServerName?: string;
  routeName?: string;
}

function tokens(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    if (line[i] === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unclosed quote at column ${i + 1}`);
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else if (line[i] === '[') {
      const end = line.indexOf(']', i + 1);
      if (end < 0) throw new Error(`unclosed [ at column ${i + 1}`);
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = line.indexOf(' ', i);
      if (end < 0) end = line.length;
      out.push(line.slice(i, end));
      i = end;
    }
  }
  return out;
}

const opt = (s: string | undefined) => (s === undefined || s === '-' ? undefined : s);
const num = (s: string | undefined) => (opt(s) === undefined ? undefined : Number(s));

/** Parses one line; throws on a line that is not in Istio's default format. */
export function parseAccessLogLine(line: string): AccessLogEntry {
  const t = tokens(line.trimEnd());
  if (t.length !== 22) throw new Error(`not an Istio default access log line: ${t.length} fields, expected 22`);
  const [start, request, code, flags, details, term, utfr, rx, tx, dur, ust, xff, ua, rid, auth, uhost, ucluster, ula, dla, dra, sni, route] = t;
  if (!/^\d{4}-\d\d-\d\dT/.test(start ?? '')) throw new Error(`not an Istio default access log line: no [START_TIME] first`);
  const [method, path, protocol] = (request ?? '').split(' ');
  const e: AccessLogEntry = {
    startTime: start!,
    responseCode: Number(code),
    responseFlags: opt(flags)?.split(',') ?? [],
    bytesReceived: Number(rx),
    bytesSent: Number(tx),
  };
  const set = <K extends keyof AccessLogEntry>(k: K, v: AccessLogEntry[K] | undefined) => {
    if (v !== undefined) e[k] = v;
  };
  set('method', opt(method));
  set('path', opt(path));
  set('protocol', opt(protocol));
  set('responseCodeDetails', opt(details));
  set('connectionTerminationDetails', opt(term));
  set('upstreamTransportFailureReason', opt(utfr));
  set('durationMs', num(dur));
  set('upstreamServiceTimeMs', num(ust));
  set('xForwardedFor', opt(xff));
  set('userAgent', opt(ua));
  set('requestId', opt(rid));
  set('authority', opt(auth));
  set('upstreamHost', opt(uhost));
  set('upstreamCluster', opt(ucluster));
  set('upstreamLocalAddress', opt(ula));
  set('downstreamLocalAddress', opt(dla));
  set('downstreamRemoteAddress', opt(dra));
  set('requestedServerName', opt(sni));
  set('routeName', opt(route));
  if (Number.isNaN(e.responseCode) || Number.isNaN(e.bytesReceived) || Number.isNaN(e.bytesSent)) throw new Error('not an Istio default access log line: a number field is not a number');
  return e;
}
