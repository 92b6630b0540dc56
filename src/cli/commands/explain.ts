import type { Command } from 'commander';
import { formatData, outputFormat } from '../output.ts';
import { isIP } from 'node:net';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { configDumpFromText, loadConfigDump, loadMeshFile } from '../load-documents.ts';
import type { EnvoyConfig } from '../../mesh/envoy/envoy-config.ts';
import { explain, type ExplainConnection, type Explanation } from '../../mesh/envoy/explain.ts';
import { readInputFile } from '../io.ts';
import { IptablesParseError, IstioConfigError, loadRuleSet, parseIptablesSave } from '../../mesh/iptables/index.ts';
import { istioInitRules } from '../../mesh/iptables/index.ts';
import { kernelTrace } from '../../paths/kernel-trace.ts';
import { formatHop } from '../../paths/hop.ts';
import { explainedHop, predictedHops } from '../../paths/predict.ts';
import type { Payload } from '../../mesh/envoy/first-bytes.ts';
import { renderDiagram } from '../../report/path-diagram.ts';
import { captureThroughContext } from './capture.ts';
import { nodeFacts } from '../capture-draft.ts';
import { CAPTURE_FILES } from '../../scenario/capture.ts';

interface ExplainOptions {
  configDump?: string;
  mesh?: string;
  resources: string[];
  era?: string;
  outboundTrafficPolicy?: string;
  podIp?: string;
  iptables?: string;
  istioVersion?: string;
  annotation: string[];
  excludeOutboundPorts?: string;
  excludeOutboundIpRanges?: string;
  src?: string;
  dst?: string;
  context?: string;
  pod?: string;
  to?: string;
  uid?: string;
  payload?: string;
  httpHost?: string;
  httpPath?: string;
  json?: boolean;
  output?: string;
  format?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseDst(text: string): { ip: string; port: number } {
  const m = /^\[?([0-9a-fA-F:.]+)\]?:(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || isIP(m[1]!) === 0 || port < 1 || port > 65535) {
    throw new CliError(`--dst ${text}: expected IP:PORT, e.g. 10.0.0.6:7000 or [fd00::6]:7000`, EXIT_BAD_INPUT);
  }
  return { ip: m[1]!, port };
}

function unescape(text: string): string {
  return text.replace(/\\r/g, '\r').replace(/\\n/g, '\n').replace(/\\t/g, '\t');
}

function list(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The explanation as text: each hop in the path notation (what a scenario's expect.path takes),
 * its reason beside it; `path:` the Envoy hop as the runner predicts it (the hand-off in one hop,
 * with the response flags the sidecar would log).
 */
export function formatExplanation(conn: ExplainConnection, e: Explanation, warnings: string[]): string {
  const lines: string[] = [];
  const what = conn.payload.kind === 'bytes' ? ` sending ${JSON.stringify(conn.payload.text)}` : conn.payload.kind === 'http' ? ` HTTP ${conn.payload.path} Host ${conn.payload.host}` : '';
  lines.push(`${conn.src} → ${conn.dst.ip}:${conn.dst.port}${what}${conn.uid !== undefined ? ` (uid ${conn.uid})` : ''}`);
  const hops = e.hops.map((h) => formatHop(explainedHop(h)));
  const width = Math.max(0, ...hops.map((h) => h.length));
  e.hops.forEach((h, i) => lines.push(`  ${hops[i]!.padEnd(width)}  ${h.reason}`));
  const envoy = predictedHops(e).find((h) => h.kind === 'envoy');
  if (envoy) lines.push(`path: ${formatHop(envoy)}`);
  lines.push(`client sees: ${e.outcome.clientSees}`);
  if (e.outcome.upstream) lines.push(`bytes go to: ${e.outcome.upstream}`);
  lines.push(`response flag: ${e.outcome.responseFlag}${e.outcome.responseCodeDetails ? ` (${e.outcome.responseCodeDetails})` : ''}`);
  for (const w of warnings) lines.push(`note: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** The explanation drawn as the HTML report draws a path: each hop in its lane, its reason under it. */
export function formatExplanationSvg(conn: ExplainConnection, e: Explanation): string {
  const what = conn.payload.kind === 'bytes' ? ` sending ${JSON.stringify(conn.payload.text)}` : conn.payload.kind === 'http' ? ` HTTP ${conn.payload.path} Host ${conn.payload.host}` : '';
  const origin = `${conn.src} → ${conn.dst.ip}:${conn.dst.port}${what}`;
  const rows = e.hops.map((h) => ({ observed: formatHop(explainedHop(h)), note: h.reason }));
  const caption = [`client sees: ${e.outcome.clientSees}`, ...(e.outcome.upstream ? [`bytes go to: ${e.outcome.upstream}`] : []), `response flag: ${e.outcome.responseFlag}${e.outcome.responseCodeDetails ? ` (${e.outcome.responseCodeDetails})` : ''}`];
  return renderDiagram({ rows, names: { expected: 'expected', observed: 'predicted' }, title: `explain: ${origin}`, origin, caption });
}

export function registerExplain(program: Command, ctx: CliContext): void {
  program
    .command('explain')
    .description('predict the path of one connection from a sidecar pod: iptables, Envoy listener, filter chain, cluster, and what the client sees')
    .option('--config-dump <file>', "the sidecar's Envoy config dump (admin /config_dump or istioctl proxy-config all -o json)")
    .option('--mesh <file>', 'a pathlab/v1 Mesh file: the listener table is synthesized from it')
    .option('--resources <file>', 'extra Kubernetes/Istio resources (YAML, several documents) added to the mesh; repeatable', collect, [])
    .option('--era <era>', 'override the mesh era: current (Istio 1.6+) or legacy (1.3-1.5)')
    .option('--outbound-traffic-policy <mode>', 'override meshConfig.outboundTrafficPolicy.mode: ALLOW_ANY or REGISTRY_ONLY')
    .option('--pod-ip <ip>', 'the sidecar pod IP (default: from the mesh, or the dump\'s bootstrap node id)')
    .option('--iptables <file>', "the pod's rules: iptables-save output or an iptables-restore payload")
    .option('--istio-version <v>', 'without --iptables: trace the rules istio-init renders for this Istio version (default: 1.5 for a legacy mesh, else current)')
    .option('--annotation <key=value>', 'a pod annotation istio-init reads (traffic.sidecar.istio.io/*, sidecar.istio.io/interceptionMode); repeatable', collect, [])
    .option('--exclude-outbound-ports <ports>', 'istio-iptables -o / traffic.sidecar.istio.io/excludeOutboundPorts, e.g. 7000')
    .option('--exclude-outbound-ip-ranges <cidrs>', 'istio-iptables -x / traffic.sidecar.istio.io/excludeOutboundIPRanges, e.g. 10.0.0.6/32')
    .option('--src <ip>', 'the client address (the app in the pod for outbound); with --context, the pod\'s own')
    .option('--dst <ip:port>', 'the original destination')
    .option('--context <name>', 'explain on a live pod of this kubeconfig context: its rules and its sidecar\'s config, read as pathlab capture reads them (with --pod and --to)')
    .option('--pod <ns/name>', 'with --context: the pod')
    .option('--to <ip:port>', 'with --context: the connection\'s original destination (as --dst)')
    .option('--uid <n>', 'the uid of the client process (1337 = the proxy itself)')
    .option('--payload <text>', 'the first bytes the client sends (\\n, \\r, \\t understood), e.g. "keys *\\n"')
    .option('--http-host <host>', 'send an HTTP/1.1 request with this Host')
    .option('--http-path <path>', 'the request path (with --http-host)', '/')
    .option('-o, --output <format>', 'text (the hops and a reason each, the default), json or yaml: {"hops", "listener", "filterChain", "cluster", "outcome", "warnings", "path"} (each hop\'s "text" and "path" in the path notation), or svg: the path drawn as the HTML report draws it (for slides)', 'text')
    .option('--format <format>', 'the same as -o (e.g. --format svg)')
    .option('--json', 'the same as -o json')
    .action(async (opts: ExplainOptions) => {
      if (opts.context !== undefined) return explainLive(opts, ctx);
      if (opts.pod !== undefined || opts.to !== undefined) throw new CliError('--pod and --to go with --context (a live pod); offline, give --config-dump, --src and --dst', EXIT_BAD_INPUT);
      if (opts.src === undefined || opts.dst === undefined) throw new CliError('give --src IP and --dst IP:PORT (or, for a live pod, --context, --pod and --to)', EXIT_BAD_INPUT);
      explainFiles({ ...opts, src: opts.src, dst: opts.dst }, ctx);
    });
}

/** explain on a live pod: capture it into a folder of its own (removed after), then explain from its files. */
async function explainLive(opts: ExplainOptions, ctx: CliContext): Promise<void> {
  if (opts.pod === undefined || opts.to === undefined) throw new CliError('--context needs --pod NS/NAME and --to IP:PORT', EXIT_BAD_INPUT);
  if (opts.configDump || opts.mesh || opts.iptables || opts.dst) throw new CliError('--context reads the pod\'s own config and rules: leave out --config-dump, --mesh, --iptables and --dst', EXIT_BAD_INPUT);
  parseDst(opts.to);
  const c = await captureThroughContext({ context: opts.context!, pod: opts.pod });
  const rules = c.files[CAPTURE_FILES.iptables];
  if (!rules) throw new CliError(`${opts.pod}: its rules could not be read (${c.manifest.notes.join('; ')}): pathlab explain needs them`, EXIT_ENVIRONMENT);
  const src = opts.src ?? c.manifest.pod.ip;
  if (src === undefined) throw new CliError(`${opts.pod} has no IP yet: give --src`, EXIT_BAD_INPUT);
  // The captured texts, named as the pod's in messages; nothing is written.
  const read = { configDump: c.files[CAPTURE_FILES.configDump]!, iptables: rules };
  explainFiles({ ...opts, configDump: `${opts.pod} (its config_dump)`, iptables: `${opts.pod} (its iptables-save)`, src, dst: opts.to }, ctx, read);
}

/** explain from --config-dump/--mesh and --iptables, or from texts already read (`read`, named by those options). */
function explainFiles(opts: ExplainOptions & { src: string; dst: string }, ctx: CliContext, read?: { configDump: string; iptables: string }): void {
  if (opts.format !== undefined && opts.output !== 'text' && opts.output !== opts.format) throw new CliError(`-o ${opts.output} and --format ${opts.format}: choose one`, EXIT_BAD_INPUT);
  const asked = opts.format ?? opts.output;
  const svg = asked === 'svg' && !opts.json;
  const output = svg ? 'text' : outputFormat({ ...opts, ...(asked !== undefined ? { output: asked } : {}) });
  if (!!opts.configDump === !!opts.mesh) throw new CliError('give exactly one of --config-dump FILE or --mesh FILE', EXIT_BAD_INPUT);
  if (opts.payload !== undefined && opts.httpHost !== undefined) throw new CliError('give --payload or --http-host, not both', EXIT_BAD_INPUT);
  if (opts.iptables && (opts.istioVersion || opts.annotation.length || opts.excludeOutboundPorts || opts.excludeOutboundIpRanges)) {
    throw new CliError('--iptables gives the rules; --istio-version, --annotation and --exclude-* render them instead: give one or the other', EXIT_BAD_INPUT);
  }
  if (opts.configDump && (opts.resources.length || opts.era || opts.outboundTrafficPolicy)) {
    throw new CliError('--resources, --era and --outbound-traffic-policy apply to --mesh only', EXIT_BAD_INPUT);
  }
  if (isIP(opts.src) === 0) throw new CliError(`--src ${opts.src}: expected an IP address`, EXIT_BAD_INPUT);
  const dst = parseDst(opts.dst);
  const uid = opts.uid === undefined ? undefined : Number(opts.uid);
  if (uid !== undefined && !Number.isInteger(uid)) throw new CliError(`--uid ${opts.uid}: expected a number`, EXIT_BAD_INPUT);
  const ports = list(opts.excludeOutboundPorts).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`--exclude-outbound-ports: "${p}" is not a port`, EXIT_BAD_INPUT);
    return n;
  });
  const payload: Payload =
    opts.httpHost !== undefined
      ? { kind: 'http', host: opts.httpHost, path: opts.httpPath ?? '/' }
      : opts.payload !== undefined
        ? { kind: 'bytes', text: unescape(opts.payload) }
        : { kind: 'none' };
  let config: EnvoyConfig;
  let podIp: string | undefined = opts.podIp;
  let warnings: string[] = [];
  let legacy = opts.era === 'legacy';
  if (opts.mesh) {
    const m = loadMeshFile(opts.mesh, opts);
    legacy = m.era === 'legacy';
    config = m.config;
    podIp ??= m.podIp;
    warnings = m.warnings;
  } else {
    const d = read ? configDumpFromText(opts.configDump!, read.configDump) : loadConfigDump(opts.configDump!);
    config = d.config;
    podIp ??= nodeFacts(d.doc).ip;
    if (!config.listeners) throw new CliError(`${opts.configDump}: no listeners in this dump`, EXIT_BAD_INPUT);
  }
  const conn: ExplainConnection = { src: opts.src, dst, ...(uid !== undefined ? { uid } : {}), ...(podIp !== undefined ? { podIp } : {}), payload };
  const trace = kernelTrace(podRules(opts, ports, legacy, read?.iptables), { src: conn.src, dst, ...(podIp ? { podIp } : {}), ...(uid !== undefined ? { uid } : {}) });
  const e = explain(trace, config, conn);
  if (svg) {
    ctx.io.out(`${formatExplanationSvg(conn, e)}\n`);
  } else if (output !== 'text') {
    // Each hop with its text in the notation; `path`: the whole predicted path as the runner compares it.
    const hops = e.hops.map((h) => ({ ...h, text: formatHop(explainedHop(h)) }));
    const path = predictedHops(e).map(formatHop);
    ctx.io.out(formatData(output, { hops, listener: e.listener, filterChain: e.filterChain, cluster: e.cluster, ...(e.route ? { route: e.route } : {}), outcome: e.outcome, warnings, path }));
  } else {
    ctx.io.out(formatExplanation(conn, e, warnings));
  }
}

/** The pod's rules: --iptables FILE, or istio-init's rendering for --istio-version and the annotations. */
function podRules(opts: ExplainOptions, excludePorts: number[], legacy: boolean, read?: string) {
  if (opts.iptables) {
    let text: string;
    try {
      text = read ?? readInputFile(opts.iptables);
    } catch (e) {
      throw new CliError(`--iptables ${opts.iptables}: ${(e as Error).message}`, EXIT_BAD_INPUT);
    }
    try {
      return loadRuleSet(parseIptablesSave(text, { source: opts.iptables }));
    } catch (e) {
      if (e instanceof IptablesParseError) throw new CliError(e.message, EXIT_BAD_INPUT);
      throw e;
    }
  }
  const annotations: Record<string, string> = {};
  for (const a of opts.annotation) {
    const i = a.indexOf('=');
    if (i <= 0) throw new CliError(`--annotation ${a}: expected key=value`, EXIT_BAD_INPUT);
    annotations[a.slice(0, i)] = a.slice(i + 1);
  }
  if (excludePorts.length) annotations['traffic.sidecar.istio.io/excludeOutboundPorts'] = excludePorts.join(',');
  const ranges = list(opts.excludeOutboundIpRanges);
  if (ranges.length) annotations['traffic.sidecar.istio.io/excludeOutboundIPRanges'] = ranges.join(',');
  try {
    return istioInitRules(opts.istioVersion ?? (legacy ? '1.5' : 'current'), annotations).tables;
  } catch (e) {
    if (e instanceof IstioConfigError) throw new CliError(e.message, EXIT_BAD_INPUT);
    throw e;
  }
}
