// Renders the iptables-restore payloads istio-init hands to `iptables-restore --noflush` (and
// `ip6tables-restore --noflush`), for a configuration and an Istio release. The order of the
// generated rules follows istio-iptables' own order (notes/istio-iptables.md §3); what differs
// between releases comes from the behaviour row (istio-versions.ts), never from version checks here.
import {
  BUILTIN_CHAINS, DNS_CAPTURE_PORT, DNS_PORT, INBOUND_PASSTHROUGH_SRC_V4, INBOUND_PASSTHROUGH_SRC_V6, ISTIO_DIVERT, ISTIO_DROP,
  ISTIO_INBOUND, ISTIO_IN_REDIRECT, ISTIO_OUTPUT, ISTIO_OUTPUT_DNS, ISTIO_REDIRECT, ISTIO_TPROXY, LOCALHOST_V6, TABLES,
} from './constants.ts';
import type { Family } from './constants.ts';
import { IstioConfigError, splitList } from './istio-iptables-config.ts';
import type { IstioIptablesConfig } from './istio-iptables-config.ts';
import { resolveIstioVersion } from './istio-versions.ts';
import type { IstioBehaviour } from './istio-versions.ts';

/** One generated line of a restore payload: `-A chain spec` or `-I chain pos spec` in `table`. */
export interface RenderedRule {
  table: string;
  chain: string;
  /** 1-based insert position for `-I`, undefined for `-A`. */
  insertAt?: number;
  spec: string;
}

export interface RenderedFamily {
  family: Family;
  rules: RenderedRule[];
  /** The exact stdin of `iptables-restore --noflush` (ipv4) or `ip6tables-restore --noflush` (ipv6). */
  payload: string;
}

export interface RenderResult {
  behaviour: IstioBehaviour;
  ipv4: RenderedFamily;
  /** Present when IPv6 is enabled (or, for the 1.2 script, its IPv6 lock-down). */
  ipv6?: RenderedFamily;
}

/** The second mark TPROXY mode sets on Envoy's own loopback connections. */
const TPROXY_OUTBOUND_MARK = '1338';

interface Ranges {
  wildcard: boolean;
  v4: string[];
  v6: string[];
}

function parseRanges(list: string, what: string): Ranges & { loopback: boolean } {
  const out = { wildcard: false, v4: [] as string[], v6: [] as string[], loopback: false };
  for (const item of splitList(list)) {
    if (item === '*') {
      out.wildcard = true;
      continue;
    }
    const [addr, len] = item.split('/');
    if (!addr || (len !== undefined && !/^\d+$/.test(len))) throw new IstioConfigError(`${what}: "${item}" is not a CIDR`);
    if (addr.includes(':')) {
      out.v6.push(item);
      if (/^(0*:)*:?0*1$/.test(addr) || addr === '::1') out.loopback = true;
    } else {
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) throw new IstioConfigError(`${what}: "${item}" is not a CIDR`);
      out.v4.push(item);
      if (addr.startsWith('127.')) out.loopback = true;
    }
  }
  return out;
}

function ports(list: string, what: string): string[] {
  const items = splitList(list);
  for (const p of items) if (!/^\d+$/.test(p) || Number(p) > 65535) throw new IstioConfigError(`${what}: "${p}" is not a port`);
  return items;
}

/** Render the restore payloads for `config` as the given Istio release would (`current`, `1.24`, `1.14.3`, ...). */
export function renderIstioIptables(config: IstioIptablesConfig, version: string | IstioBehaviour = 'current'): RenderResult {
  const behaviour = typeof version === 'string' ? resolveIstioVersion(version) : version;
  const mode = config.InboundInterceptionMode;
  if (mode !== '' && mode !== 'REDIRECT' && mode !== 'TPROXY') throw new IstioConfigError(`InboundInterceptionMode: expected REDIRECT or TPROXY, got "${mode}"`);
  for (const k of ['ProxyPort', 'InboundCapturePort', 'InboundTunnelPort'] as const) ports(config[k], k);
  const include = parseRanges(config.OutboundIPRangesInclude, 'OutboundIPRangesInclude');
  const exclude = parseRanges(config.OutboundIPRangesExclude, 'OutboundIPRangesExclude');
  if (exclude.wildcard) throw new IstioConfigError('OutboundIPRangesExclude: "*" is not allowed');
  const ipv4 = renderFamily(config, behaviour, 'ipv4', include, exclude);
  let ipv6: RenderedFamily | undefined;
  if (config.EnableIPv6) ipv6 = renderFamily(config, behaviour, 'ipv6', include, exclude);
  else if (behaviour.ipv6LockdownWhenDisabled) {
    const rules: RenderedRule[] = [
      { table: 'filter', chain: 'INPUT', spec: '-m state --state ESTABLISHED -j ACCEPT' },
      { table: 'filter', chain: 'INPUT', spec: '-i lo -d ::1/128 -j ACCEPT' },
      { table: 'filter', chain: 'INPUT', spec: '-j REJECT' },
    ];
    ipv6 = { family: 'ipv6', rules, payload: printRestorePayload(rules) };
  }
  return ipv6 ? { behaviour, ipv4, ipv6 } : { behaviour, ipv4 };
}

function renderFamily(cfg: IstioIptablesConfig, b: IstioBehaviour, family: Family, include: Ranges & { loopback: boolean }, exclude: Ranges): RenderedFamily {
  const rules: RenderedRule[] = [];
  const add = (table: string, chain: string, spec: string): void => {
    rules.push({ table, chain, spec });
  };
  const insert = (table: string, chain: string, pos: number, spec: string): void => {
    rules.push({ table, chain, insertAt: pos, spec });
  };
  const v4 = family === 'ipv4';
  const lo = v4 ? (b.configurableIPv4Loopback ? cfg.HostIPv4LoopbackCidr : '127.0.0.1/32') : LOCALHOST_V6;
  const six = v4 ? INBOUND_PASSTHROUGH_SRC_V4 : INBOUND_PASSTHROUGH_SRC_V6;
  const hostLen = v4 ? '/32' : '/128';
  const tproxy = cfg.InboundInterceptionMode === 'TPROXY';
  const uids = splitList(cfg.ProxyUID);
  const gids = splitList(cfg.ProxyGID);
  const tunnel = cfg.InboundTunnelPort;
  const mark = cfg.InboundTProxyMark;
  const inboundInclude = cfg.InboundPortsInclude.trim();
  const inboundExcludes = ports(cfg.InboundPortsExclude, 'InboundPortsExclude');
  const outboundExcludes = ports(cfg.OutboundPortsExclude, 'OutboundPortsExclude');
  const outboundIncludes = b.outboundPortsInclude ? ports(cfg.OutboundPortsInclude, 'OutboundPortsInclude') : [];
  const excludeNics = b.excludeInterfaces ? splitList(cfg.ExcludeInterfaces) : [];
  const virtNics = splitList(cfg.RerouteVirtualInterfaces);
  const servers = (v4 ? cfg.DNSServersV4 : cfg.DNSServersV6).map((s) => (s.includes('/') ? s : s + hostLen));
  const anyServer = cfg.DNSServersV4.length + cfg.DNSServersV6.length > 0;
  const dns = b.dnsLayout !== 'none' && cfg.RedirectDNS && (!b.dnsRequiresServer || cfg.CaptureAllDNS || anyServer);
  const familyDns = dns && (cfg.CaptureAllDNS || servers.length > 0);
  const ownerInclude = b.ownerGroups ? splitList(cfg.OwnerGroupsInclude) : ['*'];
  const ownerExclude = b.ownerGroups ? splitList(cfg.OwnerGroupsExclude) : [];
  const inboundToProxyPort = b.inboundCapturePortOnlyForWildcard && inboundInclude !== '*';
  const log = (table: string, chain: string, proto: string, prefix: string): void => {
    if (cfg.TraceLogging) add(table, chain, `${proto}-j NFLOG --nflog-prefix ${prefix} --nflog-group 1337 --nflog-size 20`);
  };

  // 1. NICs never captured.
  for (const nic of excludeNics) {
    add('nat', 'PREROUTING', `-i ${nic} -j RETURN`);
    add('nat', 'OUTPUT', `-o ${nic} -j RETURN`);
  }
  if (tproxy) {
    for (const nic of excludeNics) {
      add('mangle', 'PREROUTING', `-i ${nic} -j RETURN`);
      add('mangle', 'OUTPUT', `-o ${nic} -j RETURN`);
    }
  }
  // 2. Virtual NICs: their inbound traffic is not inbound.
  for (const nic of virtNics) insert('nat', 'PREROUTING', 1, `-i ${nic} -j RETURN`);
  // 3. Drop INVALID.
  if (b.dropInvalid && cfg.DropInvalid) {
    if (b.dropInvalidChain) {
      add('mangle', 'PREROUTING', `-m conntrack --ctstate INVALID -j ${ISTIO_DROP}`);
      add('mangle', ISTIO_DROP, '-j DROP');
    } else {
      add('mangle', 'PREROUTING', '-m conntrack --ctstate INVALID -j DROP');
    }
  }
  // 4. The fixed skeleton.
  if (b.tunnelPortReturn) add('nat', ISTIO_INBOUND, `-p tcp --dport ${tunnel} -j RETURN`);
  add('nat', ISTIO_REDIRECT, `-p tcp -j REDIRECT --to-ports ${cfg.ProxyPort}`);
  log('nat', ISTIO_IN_REDIRECT, '-p tcp ', 'InboundCapture');
  add('nat', ISTIO_IN_REDIRECT, `-p tcp -j REDIRECT --to-ports ${inboundToProxyPort ? cfg.ProxyPort : cfg.InboundCapturePort}`);

  // 5. Inbound.
  if (inboundInclude !== '') {
    const wildcard = inboundInclude === '*';
    const list = wildcard ? [] : ports(inboundInclude, 'InboundPortsInclude');
    const wildcardReturns = wildcard ? [...(b.sshPortReturn ? ['22'] : []), ...inboundExcludes] : [];
    if (tproxy) {
      const established = b.tproxyEstablished === 'socket' ? '-m socket' : '-m conntrack --ctstate RELATED,ESTABLISHED';
      add('mangle', ISTIO_DIVERT, `-j MARK --set-mark ${mark}`);
      add('mangle', ISTIO_DIVERT, '-j ACCEPT');
      add('mangle', ISTIO_TPROXY, `! -d ${lo} -p tcp -j TPROXY --tproxy-mark ${mark}/0xffffffff --on-port ${cfg.InboundCapturePort}`);
      add('mangle', 'PREROUTING', `-p tcp -j ${ISTIO_INBOUND}`);
      if (wildcard) {
        for (const p of wildcardReturns) add('mangle', ISTIO_INBOUND, `-p tcp --dport ${p} -j RETURN`);
        add('mangle', ISTIO_INBOUND, `-p tcp ${established} -j ${ISTIO_DIVERT}`);
        add('mangle', ISTIO_INBOUND, `-p tcp -j ${ISTIO_TPROXY}`);
      } else {
        for (const p of list) {
          add('mangle', ISTIO_INBOUND, `-p tcp --dport ${p} ${established} -j ${ISTIO_DIVERT}`);
          add('mangle', ISTIO_INBOUND, `-p tcp --dport ${p} -j ${ISTIO_TPROXY}`);
        }
      }
    } else {
      add('nat', 'PREROUTING', `-p tcp -j ${ISTIO_INBOUND}`);
      if (wildcard) {
        for (const p of wildcardReturns) add('nat', ISTIO_INBOUND, `-p tcp --dport ${p} -j RETURN`);
        add('nat', ISTIO_INBOUND, `-p tcp -j ${ISTIO_IN_REDIRECT}`);
      } else {
        for (const p of list) add('nat', ISTIO_INBOUND, `-p tcp --dport ${p} -j ${ISTIO_IN_REDIRECT}`);
      }
    }
  }

  // 6. The OUTPUT hook.
  const outputProto = b.outputTcpOnly ? '-p tcp ' : '';
  log('nat', 'OUTPUT', '-p tcp ', 'JumpOutbound');
  add('nat', 'OUTPUT', `${outputProto}-j ${ISTIO_OUTPUT}`);

  // 7. ISTIO_OUTPUT.
  const out = (spec: string): void => add('nat', ISTIO_OUTPUT, spec);
  for (const p of outboundExcludes) {
    out(`-p tcp --dport ${p} -j RETURN`);
    if (b.outboundExcludeUdp) out(`-p udp --dport ${p} -j RETURN`);
  }
  if (b.inboundPassthroughReturn) out(`-o lo -s ${six} -j RETURN`);
  const owners: ['uid' | 'gid', string][] = [...uids.map((u) => ['uid', u] as ['uid', string]), ...gids.map((g) => ['gid', g] as ['gid', string])];
  if (b.loopback === 'any-to-redirect') {
    out(`-o lo ! -d ${lo} -j ${ISTIO_REDIRECT}`);
    for (const [kind, id] of owners) out(`-m owner --${kind}-owner ${id} -j RETURN`);
  } else {
    for (const [kind, id] of owners) {
      let portMatch: string;
      if (b.ownerRedirectExcludesTunnel) portMatch = dns && kind === 'uid' ? `-p tcp -m multiport ! --dports ${DNS_PORT},${tunnel} ` : `-p tcp ! --dport ${tunnel} `;
      else portMatch = dns && kind === 'uid' ? `-p tcp ! --dport ${DNS_PORT} ` : '';
      out(`-o lo ! -d ${lo} ${portMatch}-m owner --${kind}-owner ${id} -j ${ISTIO_IN_REDIRECT}`);
      if (!(b.loopbackIncludeDisablesLoReturn && include.loopback)) {
        out(dns ? `-o lo -p tcp ! --dport ${DNS_PORT} -m owner ! --${kind}-owner ${id} -j RETURN` : `-o lo -m owner ! --${kind}-owner ${id} -j RETURN`);
      }
      out(`-m owner --${kind}-owner ${id} -j RETURN`);
    }
  }
  const ownerGroupRules = (prefix: string): string[] => {
    if (ownerInclude.length === 1 && ownerInclude[0] === '*') return ownerExclude.map((g) => `${prefix}-m owner --gid-owner ${g} -j RETURN`);
    if (ownerInclude.length === 0) return [];
    return [`${prefix}${ownerInclude.map((g) => `-m owner ! --gid-owner ${g}`).join(' ')} -j RETURN`];
  };
  for (const r of ownerGroupRules('')) out(r);

  // DNS, TCP part (and everything for the ISTIO_OUTPUT_DNS layout).
  const dnsPort = cfg.CaptureAllDNS ? [''] : servers.map((s) => `-d ${s} `);
  if (dns && b.dnsLayout === 'output-dns-chain') {
    if (familyDns) {
      out(`-j ${ISTIO_OUTPUT_DNS}`);
      for (const d of dnsPort) add('nat', ISTIO_OUTPUT_DNS, `-p tcp --dport ${DNS_PORT} ${d}-j REDIRECT --to-ports ${DNS_CAPTURE_PORT}`);
      for (const d of dnsPort) add('nat', ISTIO_OUTPUT_DNS, `-p udp --dport ${DNS_PORT} ${d}-j REDIRECT --to-port ${DNS_CAPTURE_PORT}`);
    }
  } else if (dns) {
    for (const d of dnsPort) out(`-p tcp --dport ${DNS_PORT} ${d}-j REDIRECT --to-ports ${DNS_CAPTURE_PORT}`);
  }

  out(`-d ${lo} -j RETURN`);
  for (const c of v4 ? exclude.v4 : exclude.v6) out(`-d ${c} -j RETURN`);
  for (const p of outboundIncludes) out(`-p tcp --dport ${p} -j ${ISTIO_REDIRECT}`);
  if (include.wildcard) {
    out(`-j ${ISTIO_REDIRECT}`);
    for (const nic of virtNics) insert('nat', 'PREROUTING', 1, `-i ${nic} -j ${ISTIO_REDIRECT}`);
  } else {
    const cidrs = v4 ? include.v4 : include.v6;
    for (const c of cidrs) {
      for (const nic of virtNics) insert('nat', 'PREROUTING', 1, `-i ${nic} -d ${c} -j ${ISTIO_REDIRECT}`);
      out(`-d ${c} -j ${ISTIO_REDIRECT}`);
    }
    if (b.trailingReturnAfterCidrs && cidrs.length > 0) out('-j RETURN');
  }

  // DNS, UDP part and conntrack zones.
  if (dns) {
    const ownerCt = (chain: string): void => {
      for (const [kind, id] of owners) {
        add('raw', chain, `-p udp --dport ${DNS_PORT} -m owner --${kind}-owner ${id} -j CT --zone 1`);
        add('raw', chain, `-p udp --sport ${DNS_CAPTURE_PORT} -m owner --${kind}-owner ${id} -j CT --zone 2`);
      }
    };
    if (b.dnsLayout === 'output-dns-chain') {
      add('raw', 'OUTPUT', `-j ${ISTIO_OUTPUT_DNS}`);
      ownerCt(ISTIO_OUTPUT_DNS);
      if (familyDns) {
        add('raw', 'PREROUTING', `-j ${ISTIO_INBOUND}`);
        if (cfg.CaptureAllDNS) {
          add('raw', ISTIO_OUTPUT_DNS, `-p udp --dport ${DNS_PORT} -j CT --zone 2`);
          add('raw', ISTIO_INBOUND, `-p udp --sport ${DNS_PORT} -j CT --zone 1`);
        } else {
          for (const s of servers) {
            add('raw', ISTIO_OUTPUT_DNS, `-p udp --dport ${DNS_PORT} -d ${s} -j CT --zone 2`);
            add('raw', ISTIO_INBOUND, `-p udp --sport ${DNS_PORT} -s ${s} -j CT --zone 1`);
          }
        }
      }
    } else {
      const natChain = b.dnsLayout === 'istio-output-udp' ? ISTIO_OUTPUT : 'OUTPUT';
      if (b.dnsLayout === 'istio-output-udp') {
        add('nat', 'OUTPUT', `-p udp -j ${ISTIO_OUTPUT}`);
        add('raw', 'OUTPUT', `-p udp -j ${ISTIO_OUTPUT}`);
      }
      for (const [kind, id] of owners) add('nat', natChain, `-p udp --dport ${DNS_PORT} -m owner --${kind}-owner ${id} -j RETURN`);
      for (const r of ownerGroupRules(`-p udp --dport ${DNS_PORT} `)) add('nat', natChain, r);
      for (const d of dnsPort) add('nat', natChain, `-p udp --dport ${DNS_PORT} ${d}-j REDIRECT --to-port ${DNS_CAPTURE_PORT}`);
      ownerCt(natChain);
      if (cfg.CaptureAllDNS) {
        add('raw', natChain, `-p udp --dport ${DNS_PORT} -j CT --zone 2`);
        add('raw', 'PREROUTING', `-p udp --sport ${DNS_PORT} -j CT --zone 1`);
      } else {
        for (const s of servers) add('raw', natChain, `-p udp --dport ${DNS_PORT} -d ${s} -j CT --zone 2`);
        for (const s of servers) add('raw', 'PREROUTING', `-p udp --sport ${DNS_PORT} ${b.dnsZoneReplyMatch} ${s} -j CT --zone 1`);
      }
    }
  }

  // 8. TPROXY: marks that keep Envoy's own traffic and replies out of the inbound capture.
  if (tproxy) {
    add('mangle', 'PREROUTING', `-p tcp -m mark --mark ${mark} -j CONNMARK --save-mark`);
    add('mangle', 'OUTPUT', `-p tcp -o lo -m mark --mark ${mark} -j RETURN`);
    for (const [kind, id] of owners) add('mangle', 'OUTPUT', `! -d ${lo} -p tcp -o lo -m owner --${kind}-owner ${id} -j MARK --set-mark ${TPROXY_OUTBOUND_MARK}`);
    add('mangle', 'OUTPUT', `-p tcp -m connmark --mark ${mark} -j CONNMARK --restore-mark`);
    insert('mangle', ISTIO_INBOUND, 1, `-p tcp -m mark --mark ${mark} -j RETURN`);
    insert('mangle', ISTIO_INBOUND, 2, `-p tcp -s ${six} -i lo -j RETURN`);
    insert('mangle', ISTIO_INBOUND, 3, `-p tcp -i lo -m mark ! --mark ${TPROXY_OUTBOUND_MARK} -j RETURN`);
  }
  return { family, rules, payload: printRestorePayload(rules) };
}

/**
 * The restore payload for generated rules: tables in name order, `* table`, `-N` for every
 * non-built-in chain in order of first use (own chain first, then chains only jumped to), the
 * rules in generation order, `COMMIT`.
 */
export function printRestorePayload(rules: readonly RenderedRule[]): string {
  const lines: string[] = [];
  const known = new Set<string>(TABLES);
  const tables = [...TABLES, ...[...new Set(rules.map((r) => r.table))].filter((t) => !known.has(t)).sort()];
  for (const table of tables) {
    const inTable = rules.filter((r) => r.table === table);
    if (inTable.length === 0) continue;
    const chains: string[] = [];
    const note = (c: string): void => {
      if (!BUILTIN_CHAINS.has(c) && !chains.includes(c)) chains.push(c);
    };
    for (const r of inTable) note(r.chain);
    for (const r of inTable) {
      const target = /(?:^|\s)-[jg] (\S+)/.exec(r.spec)?.[1];
      if (target && /^[A-Za-z0-9_-]+$/.test(target) && target.toUpperCase() !== target.toLowerCase() && isUserChainName(target)) note(target);
    }
    lines.push(`* ${table}`);
    for (const c of chains) lines.push(`-N ${c}`);
    for (const r of inTable) lines.push(r.insertAt === undefined ? `-A ${r.chain} ${r.spec}` : `-I ${r.chain} ${r.insertAt} ${r.spec}`);
    lines.push('COMMIT');
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Chain names istio-iptables creates; targets such as REDIRECT or CT are extensions. */
function isUserChainName(name: string): boolean {
  return name.startsWith('ISTIO_') || name.startsWith('istio_');
}
