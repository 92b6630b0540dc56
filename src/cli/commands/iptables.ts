// `pathlab iptables render|trace|diff`: thin front end on src/mesh/iptables.
import { formatData, outputFormat } from '../output.ts';
import { readInputFile } from '../io.ts';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED } from '../exit-codes.ts';
import {
  configFromFields, configFromFlags, flagsFromAnnotations, formatEffect, IptablesParseError, IstioConfigError,
  ISTIO_ERAS, parseIptablesSave, renderIstioIptables, traceConnection, TraceError,
} from '../../mesh/iptables/index.ts';
import type { Connection, IstioIptablesConfig, RenderResult } from '../../mesh/iptables/index.ts';
import { formatHop } from '../../paths/hop.ts';
import { traceHop } from '../../paths/kernel-trace.ts';

interface ConfigOptions {
  config?: string;
  annotations?: string;
}

function readInput(path: string, what: string): string {
  try {
    return readInputFile(path);
  } catch (e) {
    throw new CliError(`${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, EXIT_BAD_INPUT);
  }
}

/** Run `f`, turning the library's input errors into exit code 2 with their message. */
function badInput<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof IstioConfigError || e instanceof IptablesParseError || e instanceof TraceError || e instanceof RangeError) {
      throw new CliError(`pathlab iptables: ${e.message}`, EXIT_BAD_INPUT);
    }
    throw e;
  }
}

function loadConfig(istioFlags: string[], opts: ConfigOptions): IstioIptablesConfig {
  const sources = [istioFlags.length > 0, opts.config !== undefined, opts.annotations !== undefined].filter(Boolean).length;
  if (sources > 1) throw new CliError('pathlab iptables: give istio-iptables flags, --config or --annotations, not several', EXIT_BAD_INPUT);
  if (opts.config !== undefined) {
    const text = readInput(opts.config, '--config');
    let fields: unknown;
    try {
      fields = JSON.parse(text);
    } catch (e) {
      throw new CliError(`--config ${opts.config}: not JSON: ${(e as Error).message}`, EXIT_BAD_INPUT);
    }
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new CliError(`--config ${opts.config}: expected a JSON object of Istio field names`, EXIT_BAD_INPUT);
    return badInput(() => configFromFields(fields as Record<string, unknown>));
  }
  if (opts.annotations !== undefined) {
    const text = readInput(opts.annotations, '--annotations');
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new CliError(`--annotations ${opts.annotations}: not YAML: ${(e as Error).message}`, EXIT_BAD_INPUT);
    }
    const obj = (doc ?? {}) as Record<string, unknown>;
    const meta = obj['metadata'] as Record<string, unknown> | undefined;
    const ann = (meta?.['annotations'] ?? obj['annotations'] ?? obj) as Record<string, unknown>;
    if (typeof ann !== 'object' || ann === null || Object.values(ann).some((v) => typeof v !== 'string')) {
      throw new CliError(`--annotations ${opts.annotations}: expected a map of annotation strings (or a pod with metadata.annotations)`, EXIT_BAD_INPUT);
    }
    return badInput(() => configFromFlags(flagsFromAnnotations(ann as Record<string, string>)));
  }
  return badInput(() => configFromFlags(istioFlags));
}

function render(cfg: IstioIptablesConfig, version: string): RenderResult {
  return badInput(() => renderIstioIptables(cfg, version));
}

function parsePort(v: string, what: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new CliError(`${what}: "${v}" is not a port`, EXIT_BAD_INPUT);
  return Number(v);
}

function parseId(v: string, what: string): number {
  if (!/^\d+$/.test(v)) throw new CliError(`${what}: "${v}" is not a number`, EXIT_BAD_INPUT);
  return Number(v);
}

/** Minimal line diff (longest common subsequence) with ` `, `-`, `+` prefixes. */
export function diffLines(a: string[], b: string[]): string[] {
  const n = a.length;
  const m = b.length;
  const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j >= m || dp[i + 1]![j]! >= dp[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

const ISTIO_FLAGS_HELP = `
istio-iptables flags (long or short) follow the options, e.g.
  pathlab iptables render --istio-version 1.14 -- -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020
Versions: ${ISTIO_ERAS.join(', ')} (or a release such as 1.14.3).`;

export function registerIptables(program: Command, ctx: CliContext): void {
  const ipt = program.command('iptables').description("istio-init's iptables rules: render them for an Istio version, trace a connection, diff versions");

  ipt
    .command('render')
    .description('print the iptables-restore payload(s) istio-init would hand to iptables-restore --noflush')
    .argument('[istio-flags...]', 'istio-iptables flags (-p -z -u -g -m -b -d -i -x -o -q -k -c --redirect-dns ...)')
    .option('--config <file.json>', "Istio's config field names (ProxyPort, InboundPortsInclude, ...) as JSON")
    .option('--annotations <file.yaml>', 'pod annotations (traffic.sidecar.istio.io/*), turned into flags as the injector does')
    .option('--istio-version <v>', 'Istio release', 'current')
    .option('--family <ipv4|ipv6>', 'print only this family (default: the IPv4 payload, then the IPv6 payload when IPv6 is enabled)')
    .allowUnknownOption()
    .addHelpText('after', ISTIO_FLAGS_HELP)
    .action((istioFlags: string[], opts: ConfigOptions & { istioVersion: string; family?: string }) => {
      if (opts.family !== undefined && opts.family !== 'ipv4' && opts.family !== 'ipv6') throw new CliError(`--family: expected ipv4 or ipv6, got "${opts.family}"`, EXIT_BAD_INPUT);
      const out = render(loadConfig(istioFlags, opts), opts.istioVersion);
      if (opts.family === 'ipv6') {
        if (!out.ipv6) throw new CliError('no IPv6 payload: IPv6 is not enabled in this configuration (EnableIPv6)', EXIT_BAD_INPUT);
        ctx.io.out(out.ipv6.payload);
        return;
      }
      // both families: the IPv4 payload, then the IPv6 one, in the order istio-iptables runs the two restores
      ctx.io.out(out.ipv4.payload);
      if (opts.family === undefined && out.ipv6) ctx.io.out(out.ipv6.payload);
    });

  ipt
    .command('trace')
    .description('walk a connection through iptables rules and print every rule it matched')
    .requiredOption('--rules <file>', 'iptables-save output or a render payload')
    .requiredOption('--src <ip>', 'source address')
    .requiredOption('--dst <ip:port>', 'destination (IPv6 as [addr]:port)')
    .option('--sport <n>', 'source port')
    .option('--uid <n>', 'uid of the process making the connection (outbound; default 0)')
    .option('--gid <n>', 'gid of the process making the connection (outbound; default 0)')
    .option('--direction <out|in>', 'out: made in the pod (OUTPUT); in: arriving (PREROUTING)', 'out')
    .option('--oif <if>', 'output interface (default lo for loopback destinations, else eth0)')
    .option('--iif <if>', 'input interface (default eth0)')
    .option('--proto <tcp|udp>', 'protocol', 'tcp')
    .option('--table <name>', 'table of rule lines that have no *table header', 'nat')
    .option('-o, --output <format>', 'text (the hop, the default), json or yaml: {"hops":[...],"effect":{...},"path":"...","steps":[...]} (path: the hop in the path notation, null when no rule matched; steps: matched rules, chain returns, policies)', 'text')
    .option('--json', 'the same as -o json')
    .addHelpText('after', '\nPrints the rules the connection matched as one hop of the path notation, ready for a scenario\'s expect.path.\nExample: pathlab iptables trace --rules pod.save --src 10.0.0.5 --dst 10.0.0.6:7000 --uid 1000\n  iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001')
    .action((opts: { rules: string; src: string; dst: string; sport?: string; uid?: string; gid?: string; direction: string; oif?: string; iif?: string; proto: string; table: string; json?: boolean; output?: string }) => {
      const output = outputFormat(opts);
      if (opts.direction !== 'out' && opts.direction !== 'in') throw new CliError(`--direction: expected out or in, got "${opts.direction}"`, EXIT_BAD_INPUT);
      if (opts.proto !== 'tcp' && opts.proto !== 'udp') throw new CliError(`--proto: expected tcp or udp, got "${opts.proto}"`, EXIT_BAD_INPUT);
      const m = /^\[([^\]]+)\]:(\d+)$/.exec(opts.dst) ?? /^([^:]+):(\d+)$/.exec(opts.dst);
      if (!m) throw new CliError(`--dst: expected IP:PORT (IPv6 as [addr]:port), got "${opts.dst}"`, EXIT_BAD_INPUT);
      const conn: Connection = { direction: opts.direction, proto: opts.proto, src: opts.src, dst: m[1] as string, dport: parsePort(m[2] as string, '--dst') };
      if (opts.sport !== undefined) conn.sport = parsePort(opts.sport, '--sport');
      if (conn.direction === 'out') {
        // a connection made by a process always has an owner; root unless told otherwise
        conn.uid = opts.uid !== undefined ? parseId(opts.uid, '--uid') : 0;
        conn.gid = opts.gid !== undefined ? parseId(opts.gid, '--gid') : 0;
      }
      if (opts.oif !== undefined) conn.oif = opts.oif;
      if (opts.iif !== undefined) conn.iif = opts.iif;
      const text = readInput(opts.rules, '--rules');
      const trace = badInput(() => traceConnection(parseIptablesSave(text, { source: opts.rules, defaultTable: opts.table }), conn));
      // The hop a scenario takes; a connection no rule matched has none (the notation needs a rule), only the policy's verdict.
      const hop = traceHop(trace);
      if (output !== 'text') ctx.io.out(formatData(output, { hops: trace.hops, effect: trace.effect, path: hop ? formatHop(hop) : null, steps: trace.steps }));
      else ctx.io.out(`${hop ? formatHop(hop) : `no rule matched: ${formatEffect(trace.effect)} by the chains' policies`}\n`);
    });

  ipt
    .command('diff')
    .description('what changes in the rules between two Istio versions for the same configuration (exit 1 when they differ, as diff does)')
    .requiredOption('--from <v>', 'Istio version before')
    .requiredOption('--to <v>', 'Istio version after')
    .argument('[istio-flags...]', 'istio-iptables flags')
    .option('--config <file.json>', "Istio's config field names as JSON")
    .option('--annotations <file.yaml>', 'pod annotations')
    .allowUnknownOption()
    .addHelpText('after', ISTIO_FLAGS_HELP)
    .action((istioFlags: string[], opts: ConfigOptions & { from: string; to: string }) => {
      const cfg = loadConfig(istioFlags, opts);
      const a = render(cfg, opts.from);
      const b = render(cfg, opts.to);
      let changed = false;
      for (const fam of ['ipv4', 'ipv6'] as const) {
        const la = (a[fam]?.payload ?? '').split('\n').filter((l) => l !== '');
        const lb = (b[fam]?.payload ?? '').split('\n').filter((l) => l !== '');
        if (la.length === 0 && lb.length === 0) continue;
        const d = diffLines(la, lb);
        const n = d.filter((l) => !l.startsWith('  ')).length;
        ctx.io.out(`--- ${fam} Istio ${opts.from} (${a.behaviour.era})\n+++ ${fam} Istio ${opts.to} (${b.behaviour.era})\n`);
        if (n === 0) ctx.io.out('  (no change)\n');
        else {
          changed = true;
          ctx.io.out(d.join('\n') + '\n');
        }
      }
      if (!changed) ctx.io.out('no rule changes\n');
      // As diff(1): 0 the same, 1 they differ.
      else ctx.exit(EXIT_CHECK_FAILED);
    });
}
