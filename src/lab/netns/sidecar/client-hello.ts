// Reads SNI and ALPN from a TLS ClientHello, as Envoy's tls_inspector does, so the sidecar
// model can choose among mTLS and plaintext filter chains the same way. Pure.

export interface ClientHello {
  sni?: string;
  alpn: string[];
}

/** The bytes start a TLS handshake record (content type 22, version 3.x). */
export function looksLikeTls(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0x16 && b[1] === 0x03;
}

/** Parses the first ClientHello of `b`; undefined when it is not one (or is cut short). */
export function parseClientHello(b: Uint8Array): ClientHello | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 5; // record header: type, version(2), length(2)
  if (!looksLikeTls(b) || b.length < p + 4 || b[p] !== 0x01) return undefined; // handshake type client_hello
  p += 4; // type + 24-bit length
  p += 2 + 32; // client_version, random
  if (p >= b.length) return undefined;
  p += 1 + b[p]!; // session id
  if (p + 2 > b.length) return undefined;
  p += 2 + v.getUint16(p); // cipher suites
  if (p >= b.length) return undefined;
  p += 1 + b[p]!; // compression methods
  if (p + 2 > b.length) return { alpn: [] };
  const end = Math.min(b.length, p + 2 + v.getUint16(p));
  p += 2;
  const out: ClientHello = { alpn: [] };
  while (p + 4 <= end) {
    const type = v.getUint16(p);
    const len = v.getUint16(p + 2);
    const body = p + 4;
    if (body + len > end) break;
    if (type === 0 && len >= 5) {
      // server_name: list length(2), name type(1) = host_name, name length(2), name
      const nameLen = v.getUint16(body + 3);
      out.sni = Buffer.from(b.subarray(body + 5, body + 5 + nameLen)).toString('ascii');
    } else if (type === 16 && len >= 2) {
      // ALPN: list length(2), then length-prefixed protocol names
      for (let q = body + 2; q < body + len; ) {
        const n = b[q]!;
        out.alpn.push(Buffer.from(b.subarray(q + 1, q + 1 + n)).toString('ascii'));
        q += 1 + n;
      }
    }
    p = body + len;
  }
  return out;
}
