// What Envoy's listener filters learn from the first bytes a client sends: tls_inspector reads a
// TLS ClientHello (transport protocol `tls`, SNI, ALPN), http_inspector recognises an HTTP/1.x
// request line (`http/1.1` or `http/1.0`) or the HTTP/2 connection preface (`h2c`). Anything
// else sets nothing: the transport protocol stays `raw_buffer` and no application protocol is set.

/** What the client sends first. */
export type Payload =
  | { kind: 'bytes'; text: string }
  | { kind: 'http'; host: string; path: string; method?: string; version?: '1.0' | '1.1' | '2' }
  | { kind: 'tls'; sni?: string; alpn?: string[] }
  /** The client connects and waits (nc -z, a server-first protocol such as MySQL or SMTP). */
  | { kind: 'none' };

export interface Detected {
  /** tls_inspector saw a ClientHello. */
  tls: boolean;
  sni?: string;
  /** ALPN from the ClientHello, or what http_inspector set. */
  alpn: string[];
  /** The bytes are an HTTP request (an HTTP connection manager can parse them). */
  http: boolean;
  /** HTTP version http_inspector saw, if any. */
  httpVersion?: '1.0' | '1.1' | '2';
  /** Host (HTTP/1 Host header or :authority) when HTTP. */
  host?: string;
  path?: string;
  /** A short description for reasons: `not HTTP ("keys *")`. */
  summary: string;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PRI'];
const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

function quote(text: string): string {
  const shown = text.length > 24 ? `${text.slice(0, 24)}…` : text;
  return JSON.stringify(shown);
}

/** Parses raw text as http_inspector would: a request line `METHOD SP target SP HTTP/1.x`. */
function parseRequestLine(text: string): { version: '1.0' | '1.1'; method: string; path: string } | undefined {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(line);
  if (!m || !METHODS.includes(m[1]!)) return undefined;
  return { method: m[1]!, path: m[2]!, version: m[3] === '0' ? '1.0' : '1.1' };
}

function hostHeader(text: string): string | undefined {
  const m = /\r?\nhost:[ \t]*([^\r\n]*)/i.exec(text);
  return m ? m[1]!.trim() : undefined;
}

/** What tls_inspector and http_inspector would detect from the payload. */
export function detectFirstBytes(payload: Payload): Detected {
  switch (payload.kind) {
    case 'none':
      return { tls: false, alpn: [], http: false, summary: 'no bytes from the client' };
    case 'tls':
      return {
        tls: true,
        ...(payload.sni !== undefined ? { sni: payload.sni } : {}),
        alpn: payload.alpn ?? [],
        http: false,
        summary: `a TLS ClientHello${payload.sni ? ` for ${payload.sni}` : ''}`,
      };
    case 'http': {
      const version = payload.version ?? '1.1';
      return {
        tls: false,
        alpn: [version === '2' ? 'h2c' : `http/${version}`],
        http: true,
        httpVersion: version,
        host: payload.host,
        path: payload.path,
        summary: `HTTP/${version === '2' ? '2' : version} ${payload.method ?? 'GET'} ${payload.path} (Host ${payload.host})`,
      };
    }
    case 'bytes': {
      const text = payload.text;
      if (text.startsWith(H2_PREFACE)) {
        return { tls: false, alpn: ['h2c'], http: true, httpVersion: '2', summary: 'the HTTP/2 connection preface' };
      }
      if (text.length > 0 && text.charCodeAt(0) === 0x16) {
        return { tls: true, alpn: [], http: false, summary: 'a TLS record' };
      }
      const req = parseRequestLine(text);
      if (req) {
        const host = hostHeader(text);
        return {
          tls: false,
          alpn: [`http/${req.version}`],
          http: true,
          httpVersion: req.version,
          ...(host !== undefined ? { host } : {}),
          path: req.path,
          summary: `HTTP/${req.version} ${req.method} ${req.path}`,
        };
      }
      return { tls: false, alpn: [], http: false, summary: `not HTTP (${quote(text.trimEnd())})` };
    }
  }
}
