// IPv4/IPv6 addresses and prefixes as numbers, for CIDR matches.

export interface IpPrefix {
  v6: boolean;
  addr: bigint;
  len: number;
}

export function parseIp(text: string): { v6: boolean; addr: bigint } | null {
  if (text.includes(':')) {
    const v = parseIpv6(text);
    return v === null ? null : { v6: true, addr: v };
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let n = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    n = (n << 8n) | BigInt(o);
  }
  return { v6: false, addr: n };
}

function parseIpv6(text: string): bigint | null {
  let s = text;
  let tail: bigint[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = parseIp(v4[1] as string);
    if (!p) return null;
    tail = [p.addr >> 16n, p.addr & 0xffffn];
    s = s.slice(0, s.length - (v4[1] as string).length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const part = (h: string): bigint[] | null => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(BigInt(parseInt(g, 16)));
    }
    return out;
  };
  const head = part(halves[0] as string);
  const rest = halves.length === 2 ? part(halves[1] as string) : [];
  if (!head || !rest) return null;
  const groups = halves.length === 2 ? [...head, ...rest, ...tail] : [...head, ...tail];
  const missing = 8 - groups.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return null;
  const all = halves.length === 2 ? [...head, ...Array<bigint>(missing).fill(0n), ...rest, ...tail] : groups;
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

export function parsePrefix(text: string): IpPrefix | null {
  const [a, l] = text.split('/');
  const ip = parseIp(a as string);
  if (!ip) return null;
  const max = ip.v6 ? 128 : 32;
  let len = max;
  if (l !== undefined) {
    if (/^\d+$/.test(l)) len = Number(l);
    else {
      const mask = parseIp(l); // dotted mask
      if (!mask || mask.v6) return null;
      len = mask.addr.toString(2).replace(/0+$/, '').length;
    }
  }
  if (len > max) return null;
  return { v6: ip.v6, addr: ip.addr, len };
}

export function prefixContains(prefix: IpPrefix, ip: { v6: boolean; addr: bigint }): boolean {
  if (prefix.v6 !== ip.v6) return false;
  const bits = BigInt(prefix.v6 ? 128 : 32);
  const shift = bits - BigInt(prefix.len);
  return prefix.addr >> shift === ip.addr >> shift;
}

export function isLoopback(ip: { v6: boolean; addr: bigint }): boolean {
  return ip.v6 ? ip.addr === 1n : ip.addr >> 24n === 127n;
}
