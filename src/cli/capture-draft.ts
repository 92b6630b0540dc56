// Two things `pathlab capture` writes beside what it read:
// - a capture folder from files taken by hand (`--config-dump FILE --iptables FILE`): the pod, its
//   address and versions read from the dump's bootstrap node (`sidecar~IP~POD.NS~…`,
//   ISTIO_VERSION), private keys redacted as a live capture's are;
// - the drafted scenario (`scenario.yaml`), with `--to`: its lab is the capture, its probe the
//   connection to HOST:PORT, expected as it was observed (the live capture's nc answer and access
//   log line) or, with nothing observed (a capture from files), as explain predicts it from the
//   captured rules and configuration, which the file says. The SRE edits it into the path wanted.
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { redactPrivateKeys } from '../mesh/envoy/redact.ts';
import { explain } from '../mesh/envoy/explain.ts';
import type { EnvoyConfig } from '../mesh/envoy/envoy-config.ts';
import { loadRuleSet, parseIptablesSave } from '../mesh/iptables/index.ts';
import { accessLogLineOf, capturePortOf, parseAccessLogLine } from '../paths/access-log.ts';
import { formatHop, type Hop } from '../paths/hop.ts';
import { kernelTrace } from '../paths/kernel-trace.ts';
import { accessLogHop } from '../paths/observe.ts';
import { predictedHops } from '../paths/predict.ts';
import { CAPTURE_FILES, CAPTURE_PROBE_PAYLOAD, CAPTURE_VERSION, type CaptureManifest } from '../scenario/capture.ts';
import { SCENARIO_API_VERSION } from '../scenario/schema.ts';

/** What the bootstrap's node says of the pod: `sidecar~IP~POD.NS~NS.svc.cluster.local` (IPv4 or IPv6), ISTIO_VERSION, the Envoy build. */
export function nodeFacts(dump: unknown): { ip?: string; pod?: string; namespace?: string; istio?: string; envoy?: string; labels?: Record<string, string> } {
  const configs = (dump as { configs?: unknown })?.configs;
  const boot = Array.isArray(configs) ? (configs as Array<Record<string, unknown>>).find((c) => c !== null && typeof c === 'object' && c.bootstrap !== null && typeof c.bootstrap === 'object') : undefined;
  const node = (boot?.bootstrap as { node?: Record<string, unknown> } | undefined)?.node;
  if (!node) return {};
  const id = typeof node.id === 'string' ? node.id.split('~') : [];
  const [pod, namespace] = (id[2] ?? '').split('.');
  const md = (node.metadata ?? {}) as Record<string, unknown>;
  const build = typeof node.build_version === 'string' ? node.build_version : '';
  const uav = (node.user_agent_build_version as { version?: { major_number?: number; minor_number?: number; patch?: number } } | undefined)?.version;
  const envoy = uav ? `${uav.major_number ?? 0}.${uav.minor_number ?? 0}.${uav.patch ?? 0}` : /\/(\d+\.\d+\.\d+[\w-]*)\//.exec(build)?.[1];
  const labels = md.LABELS && typeof md.LABELS === 'object' ? (md.LABELS as Record<string, string>) : undefined;
  return {
    ...(id[1] && isIP(id[1]) !== 0 ? { ip: id[1] } : {}),
    ...(pod ? { pod } : {}),
    ...(namespace ? { namespace } : {}),
    ...(typeof md.ISTIO_VERSION === 'string' ? { istio: md.ISTIO_VERSION } : {}),
    ...(envoy ? { envoy } : {}),
    ...(labels ? { labels } : {}),
  };
}

export interface FileCapture {
  configDump: string;
  iptables: string;
  ip6tables?: string;
  /** Where the files came from, for the manifest's context. */
  source: string;
  pod?: { namespace: string; pod: string };
  podIp?: string;
}

/** A capture folder's files from files taken by hand; throws with what is missing. */
export function captureFromFiles(f: FileCapture): { manifest: CaptureManifest; files: Record<string, string> } {
  let dump: unknown;
  try {
    dump = JSON.parse(f.configDump);
  } catch (e) {
    throw new Error(`--config-dump: not JSON: ${(e as Error).message}`, { cause: e });
  }
  const node = nodeFacts(dump);
  const notes: string[] = [`made from files (${f.source}), not read from a live pod: no probe was made`];
  const namespace = f.pod?.namespace ?? node.namespace;
  const name = f.pod?.pod ?? node.pod;
  // A capture's pod address from the node is IPv4, as before nodeFacts served explain too (it reads any family).
  const ip = f.podIp ?? (node.ip !== undefined && isIP(node.ip) === 4 ? node.ip : undefined);
  if (!namespace || !name) throw new Error('the dump\'s bootstrap names no pod (node id sidecar~IP~POD.NS~…): give --pod NS/NAME');
  if (!ip) throw new Error('the dump\'s bootstrap names no pod address: give --pod-ip');
  const clean = redactPrivateKeys(dump);
  if (clean.redacted) notes.push(`${clean.redacted} private key(s) in the config dump replaced by a placeholder`);
  // Rules saved on another system may end their lines with CR LF, which iptables-restore refuses.
  const lf = (text: string) => text.replace(/\r\n/g, '\n');
  const files: Record<string, string> = { [CAPTURE_FILES.configDump]: `${JSON.stringify(clean.dump, null, 1)}\n`, [CAPTURE_FILES.iptables]: lf(f.iptables) };
  if (f.ip6tables) files[CAPTURE_FILES.ip6tables] = lf(f.ip6tables);
  const manifest: CaptureManifest = {
    apiVersion: CAPTURE_VERSION,
    kind: 'Capture',
    metadata: { name: `${namespace}-${name}`.slice(0, 63).replace(/-+$/, ''), capturedAt: new Date().toISOString(), context: 'files' },
    pod: { namespace, name, ip, labels: node.labels ?? {}, annotations: {} },
    versions: { istio: node.istio ?? 'unknown', envoy: node.envoy ?? 'unknown' },
    files: Object.keys(files).sort(),
    notes,
  };
  files[CAPTURE_FILES.manifest] = stringify(manifest, { lineWidth: 0 });
  return { manifest, files };
}

/** The drafted scenario (scenario.yaml) of a capture with a target: its YAML text. */
export function draftScenario(m: CaptureManifest, config: EnvoyConfig, rulesText: string, to: { host: string; port: number }): string {
  const pod = m.pod.name;
  const ip = m.pod.ip!;
  let hops: Hop[];
  let reply: string | undefined;
  let how: string;
  if (m.probe) {
    how = `as it was observed at capture time (what nc read${m.probe.accessLog.length ? ' and the access log line' : '; no access log line'}): edit it into the path you want`;
    reply = m.probe.exitCode === 0 ? m.probe.output.split('\n')[0]?.trim() || undefined : undefined;
    // The line of this connection (a busy pod logs others between): its destination, or the upstream it went to, is --to.
    const entry = m.probe.accessLog.map(parseAccessLogLine).find((e) => e.downstreamLocalAddress === `${to.host}:${to.port}` || e.upstreamHost === `${to.host}:${to.port}`);
    const hop = entry ? accessLogHop(accessLogLineOf(entry, config, capturePortOf(entry, ip)), capturePortOf(entry, ip)) : undefined;
    hops = hop ? [hop] : [];
  } else {
    how = 'as explain predicts it from the captured rules and configuration (nothing was observed: a capture from files): check it, then edit it into the path you want';
    const dst = { ip: to.host, port: to.port };
    const rules = loadRuleSet(parseIptablesSave(rulesText, { source: CAPTURE_FILES.iptables }));
    const e = explain(kernelTrace(rules, { src: ip, dst, podIp: ip }), config, { src: ip, dst, podIp: ip, payload: { kind: 'bytes', text: CAPTURE_PROBE_PAYLOAD } });
    hops = predictedHops(e).filter((h) => h.kind === 'iptables' || h.kind === 'envoy' || h.kind === 'reply' || h.kind === 'wire');
    const r = hops.find((h) => h.kind === 'reply');
    reply = r && r.kind === 'reply' && !r.closed ? r.text : undefined;
  }
  const external = isIP(to.host) === 4 && to.host !== ip;
  const doc = {
    apiVersion: SCENARIO_API_VERSION,
    kind: 'Scenario',
    metadata: {
      name: `replay-${m.metadata.name}`.slice(0, 63).replace(/-+$/, ''),
      description: `${m.pod.namespace}/${pod}'s connection to ${to.host}:${to.port}, replayed from its capture (${m.metadata.context}, ${m.metadata.capturedAt}; Istio ${m.versions.istio}).`,
      source: { incident: `${m.metadata.context}: ${m.pod.namespace}/${pod}, ${m.metadata.capturedAt}` },
      backends: ['netns'],
    },
    lab: {
      capture: '.',
      ...(external ? { externalHosts: [{ name: 'target', address: to.host, server: 'echo', ports: [to.port] }] } : {}),
    },
    probes: [
      {
        name: `to-${to.host.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-${to.port}`.slice(0, 63),
        from: { pod },
        tool: 'nc',
        target: { ...(isIP(to.host) ? { address: to.host } : { host: to.host }), port: to.port },
        payload: CAPTURE_PROBE_PAYLOAD,
        timeout: '3s',
        expect: {
          ...(reply ? { reply: { pattern: `^${reply.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` } } : {}),
          ...(hops.length ? { path: hops.map(formatHop) } : {}),
        },
      },
    ],
  };
  const head = [
    `# Drafted by pathlab capture: the lab is this capture folder, replayed in the netns lab (the`,
    `# captured rules, the captured sidecar configuration in upstream Envoy). The probe is the`,
    `# connection to ${to.host}:${to.port}, expected ${how}.`,
    ...(external ? [`# lab.externalHosts: what answers at ${to.host}:${to.port} in the lab; server is echo, http, https, redis or mtls (with an identity).`] : []),
    `# To prove a fix, add it as a setup step, e.g.`,
    `#   setup:`,
    `#     - role: fix`,
    `#       annotate: { pod: ${pod}, annotations: { traffic.sidecar.istio.io/excludeOutboundPorts: "${to.port}" } }`,
    `# with the expectations of the fixed path; pathlab run scenario.yaml --check-fault then also runs`,
    `# the capture without the fix, which must fail.`,
  ];
  return `${head.join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}
