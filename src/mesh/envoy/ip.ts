// IPv4/IPv6 address helpers for prefix matching (no sockets: node:net's isIP is pure).
import { isIP } from 'node:net';

export function isIPv6(ip: string): boolean {
  return isIP(ip) === 6;
}

function v4ToBigInt(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part) & 255), 0n);
}

function v6ToBigInt(ip: string): bigint {
  let text = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const n = v4ToBigInt(v4tail[1]!);
    text = `${text.slice(0, -v4tail[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** Does `prefix/len` contain `ip`? Families must agree. */
export function cidrContains(prefix: string, len: number, ip: string): boolean {
  const fam = isIP(prefix);
  if (fam === 0 || fam !== isIP(ip)) return false;
  const bits = fam === 4 ? 32 : 128;
  if (len <= 0) return true;
  const toInt = fam === 4 ? v4ToBigInt : v6ToBigInt;
  const shift = BigInt(bits - Math.min(len, bits));
  return toInt(prefix) >> shift === toInt(ip) >> shift;
}

/** Parses `10.0.0.6/32` or `10.0.0.6` into a prefix and length. */
export function parseCidr(text: string): { addressPrefix: string; prefixLen: number } | undefined {
  const [addr, len] = text.split('/') as [string, string | undefined];
  const fam = isIP(addr);
  if (fam === 0) return undefined;
  const max = fam === 4 ? 32 : 128;
  const n = len === undefined ? max : Number(len);
  if (!Number.isInteger(n) || n < 0 || n > max) return undefined;
  return { addressPrefix: addr, prefixLen: n };
}
