// Address helpers for Envoy's prefix matches, on the iptables engine's address parser (one
// parser of addresses for the whole mesh model).
import { parseIp, parsePrefix, prefixContains } from '../iptables/ip-address.ts';

export function isIPv6(ip: string): boolean {
  return parseIp(ip)?.v6 === true;
}

/** Does `prefix/len` contain `ip`? Families must agree. */
export function cidrContains(prefix: string, len: number, ip: string): boolean {
  const p = parseIp(prefix);
  const a = parseIp(ip);
  if (!p || !a || p.v6 !== a.v6) return false;
  if (len <= 0) return true;
  return prefixContains({ ...p, len: Math.min(len, p.v6 ? 128 : 32) }, a);
}

/** Parses `10.0.0.6/32` or `10.0.0.6` into a prefix and length. */
export function parseCidr(text: string): { addressPrefix: string; prefixLen: number } | undefined {
  const [addr, len] = text.split('/') as [string, string | undefined];
  if (len !== undefined && !/^\d+$/.test(len)) return undefined;
  const p = parsePrefix(text);
  return p ? { addressPrefix: addr, prefixLen: p.len } : undefined;
}
