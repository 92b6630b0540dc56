// The rules istio-init installs in a pod: its flags as the injector writes them for the pod's
// annotations and the Istio version (1.2's injector had its own defaults), rendered by the
// engine. Pure.
import { OUTBOUND_CAPTURE_PORT, PROXY_UID } from './constants.ts';
import { configFromFlags, flagsFromAnnotations } from './istio-iptables-config.ts';
import { parseIptablesSave } from './iptables-save-parser.ts';
import { renderIstioIptables } from './render-istio-iptables.ts';
import { resolveIstioVersion } from './istio-versions.ts';
import { loadRuleSet } from './iptables-save-parser.ts';
import type { LoadedTables } from './rule-set.ts';

/** Rules istio-init would install for these annotations on this Istio version (IPv4 payload). */
export function istioInitRules(
  version: string,
  annotations: Record<string, string> = {},
  proxy: { uid?: number; gid?: number } = {},
  containerPorts: number[] = [],
): { payload: string; tables: LoadedTables; flags: string[] } {
  const flags = resolveIstioVersion(version).injector === '1.2' ? injector12Flags(annotations, containerPorts) : flagsFromAnnotations(annotations);
  if (proxy.uid !== undefined) setFlag(flags, '-u', String(proxy.uid));
  if (proxy.gid !== undefined) setFlag(flags, '-g', String(proxy.gid));
  const rendered = renderIstioIptables(configFromFlags(flags), version);
  const payload = rendered.ipv4.payload;
  return { payload, tables: loadRuleSet(parseIptablesSave(payload)), flags };
}

/**
 * Istio 1.2's injector (seed 004): `-p 15001 -u 1337 -m REDIRECT -i '*' -x "" -b <ports> -d 15020`,
 * where the inbound ports default to the pod's container ports, not `*`, and there is no `-z`.
 */
function injector12Flags(annotations: Record<string, string>, containerPorts: number[]): string[] {
  const a = (k: string) => annotations[`traffic.sidecar.istio.io/${k}`];
  const excludes = [...(a('excludeInboundPorts') ?? '').split(',').filter(Boolean), '15020'];
  const flags = [
    '-p', String(OUTBOUND_CAPTURE_PORT), '-u', String(PROXY_UID), '-m', annotations['sidecar.istio.io/interceptionMode'] ?? 'REDIRECT',
    '-i', a('includeOutboundIPRanges') ?? '*', '-x', a('excludeOutboundIPRanges') ?? '',
    '-b', a('includeInboundPorts') ?? containerPorts.join(','), '-d', [...new Set(excludes)].join(','),
  ];
  if (a('excludeOutboundPorts')) flags.push('-o', a('excludeOutboundPorts')!);
  return flags;
}

function setFlag(flags: string[], flag: string, value: string): void {
  const i = flags.indexOf(flag);
  if (i >= 0) flags[i + 1] = value;
  else flags.push(flag, value);
}

