// `pathlab capture`: a live pod's rules, sidecar configuration and context, into a folder.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { CaptureError, capturePod, type Captured } from '../../lab/cluster/capture.ts';
import { IMAGES, imageRef } from '../../lab/kind/versions.ts';
import { CAPTURE_FILES, CaptureLoadError, loadCapture } from '../../scenario/capture.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import { formatProblem } from '../../scenario/problems.ts';
import { captureFromFiles, draftScenario } from '../capture-draft.ts';
import { configDumpFromText } from '../load-documents.ts';
import { readInputFile } from '../io.ts';

/** `NS/NAME` → its parts. */
export function parsePodRef(text: string): { namespace: string; pod: string } {
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(text);
  if (!m) throw new CliError(`--pod ${text}: expected NAMESPACE/POD, e.g. default/productpage-v1-7d9c-xk2`, EXIT_BAD_INPUT);
  return { namespace: m[1]!, pod: m[3]! };
}

/** `HOST:PORT` → its parts. */
export function parseTo(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new CliError(`--to ${text}: expected HOST:PORT, e.g. 10.0.0.6:7000`, EXIT_BAD_INPUT);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Captures a pod through the named context; the CLI's errors for what can go wrong. */
export async function captureThroughContext(o: { context: string; pod: string; to?: string }): Promise<Captured> {
  const target = parsePodRef(o.pod);
  const to = o.to === undefined ? undefined : parseTo(o.to);
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (!kc.getContextObject(o.context)) throw new CliError(`--context ${o.context}: kubeconfig has no such context (kubectl config get-contexts lists them)`, EXIT_BAD_INPUT);
  kc.setCurrentContext(o.context);
  try {
    return await capturePod(kc, { ...target, ...(to ? { to } : {}), captureImage: imageRef(IMAGES.toolbox), context: o.context });
  } catch (e) {
    if (e instanceof CaptureError) throw new CliError(e.message, e.exit === 2 ? EXIT_BAD_INPUT : EXIT_ENVIRONMENT);
    throw e;
  }
}

/** Writes a capture's files into a new or empty folder and reads them back as any capture is loaded. */
function writeCapture(out: string, files: Record<string, string>, exit: number): void {
  mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text, { mode: 0o600 });
  // What was written is read back as any capture is: a capture that would be refused on load is not left behind.
  try {
    loadCapture(out);
  } catch (e) {
    if (!(e instanceof CaptureLoadError)) throw e;
    for (const name of Object.keys(files)) rmSync(join(out, name), { force: true });
    throw new CliError(`the capture does not load, so nothing was kept in ${out}:\n${e.message}`, exit);
  }
}

function readGiven(flag: string, file: string): string {
  try {
    return readInputFile(file);
  } catch (e) {
    throw new CliError(`${flag} ${file}: ${(e as Error).message}`, EXIT_BAD_INPUT);
  }
}

interface CaptureOptions {
  context?: string;
  pod?: string;
  podIp?: string;
  configDump?: string;
  iptables?: string;
  ip6tables?: string;
  out: string;
  to?: string;
}

export function registerCapture(program: Command, ctx: CliContext): void {
  program
    .command('capture')
    .description("save a pod's iptables rules, sidecar config_dump (with endpoints; private keys redacted), labels, annotations, mesh config and versions into a folder (live by --context, or from files taken by hand), with --to one connection from it and a drafted replay scenario")
    .option('--context <name>', 'the kubeconfig context of the pod\'s cluster (a live capture)')
    .option('--pod <ns/name>', 'the pod, e.g. default/productpage-v1-7d9c-xk2 (from files: when the dump\'s bootstrap does not name it)')
    .option('--config-dump <file>', "instead of a live pod: a config_dump taken by hand, with its endpoints (pilot-agent request GET 'config_dump?include_eds')")
    .option('--iptables <file>', 'with --config-dump: the pod\'s iptables-save, taken by hand')
    .option('--ip6tables <file>', 'with --config-dump: the pod\'s ip6tables-save')
    .option('--pod-ip <ip>', 'with --config-dump: the pod\'s address, when the dump\'s bootstrap does not name it')
    .requiredOption('--out <dir>', 'the capture folder (new, or empty)')
    .option('--to <host:port>', 'a connection from the pod: a live capture makes it once (nc sends PING\\r\\n to HOST:PORT and reads the reply) and records it, its conntrack entries and its access log lines; both write DIR/scenario.yaml, a replay scenario of it (from files: HOST an IPv4 address)')
    .addHelpText(
      'after',
      `
A live capture (--context, --pod) is read-only but for one thing: no guard override is needed,
since nothing of the cluster is changed except that reading the pod's rules adds an ephemeral
container with NET_ADMIN to it (what kubectl debug adds; Kubernetes keeps it in the pod's spec
until the pod goes). Where the cluster refuses that, the capture says so and keeps the rest.
With --to, the pod also sends PING\\r\\n to HOST:PORT once, as any client of it could.

From files (--config-dump, --iptables): the same folder from a dump and rules taken by hand; the
pod, its address and Istio version come from the dump's bootstrap node. Private keys are
redacted in both.

Files: ${Object.values(CAPTURE_FILES).join(', ')}; with --to, scenario.yaml: a scenario whose lab is
the capture (lab: { capture: . }), replayed in the netns lab, its probe expected as observed (live)
or as explain predicts it (from files). Run it: pathlab run DIR/scenario.yaml

Exit codes: 0 captured, 2 bad input (no such pod or context, a folder that is not empty, files
that do not make a capture: nothing is left in DIR), 3 the cluster refused (exec into the pod, a
pod without a sidecar).`,
    )
    .action(async (opts: CaptureOptions) => {
      const live = opts.context !== undefined;
      if (live === (opts.configDump !== undefined)) throw new CliError('capture needs either --context and --pod (a live pod) or --config-dump and --iptables (files taken by hand)', EXIT_BAD_INPUT);
      if (live && opts.pod === undefined) throw new CliError('--context needs --pod NS/NAME', EXIT_BAD_INPUT);
      const fileOnly = (['iptables', 'ip6tables', 'podIp'] as const).filter((k) => opts[k] !== undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      if (live && fileOnly.length) throw new CliError(`${fileOnly.join(', ')}: for a capture from files (--config-dump); a live capture reads the pod's own`, EXIT_BAD_INPUT);
      if (!live && opts.iptables === undefined) throw new CliError('--config-dump needs --iptables: a replay needs the pod\'s rules', EXIT_BAD_INPUT);
      if (existsSync(opts.out) && readdirSync(opts.out).length > 0) throw new CliError(`--out ${opts.out}: not empty; a capture goes into a new or empty folder`, EXIT_BAD_INPUT);
      const to = opts.to === undefined ? undefined : parseTo(opts.to);
      let c: { manifest: Captured['manifest']; files: Record<string, string> };
      if (live) c = await captureThroughContext({ context: opts.context!, pod: opts.pod!, ...(opts.to !== undefined ? { to: opts.to } : {}) });
      else {
        try {
          c = captureFromFiles({
            configDump: readGiven('--config-dump', opts.configDump!),
            iptables: readGiven('--iptables', opts.iptables!),
            ...(opts.ip6tables !== undefined ? { ip6tables: readGiven('--ip6tables', opts.ip6tables) } : {}),
            source: [opts.configDump, opts.iptables].join(', '),
            ...(opts.pod !== undefined ? { pod: parsePodRef(opts.pod) } : {}),
            ...(opts.podIp !== undefined ? { podIp: opts.podIp } : {}),
          });
        } catch (e) {
          throw new CliError((e as Error).message, EXIT_BAD_INPUT);
        }
      }
      writeCapture(opts.out, c.files, live ? EXIT_ENVIRONMENT : EXIT_BAD_INPUT);
      const m = c.manifest;
      const lines = [
        `captured ${m.pod.namespace}/${m.pod.name} (Istio ${m.versions.istio}, Envoy ${m.versions.envoy}) into ${opts.out}: ${Object.keys(c.files).sort().join(', ')}`,
        ...m.notes.map((n) => `note: ${n}`),
        ...(m.probe ? [`connection to ${m.probe.to}: exit ${m.probe.exitCode}; ${m.probe.accessLog.length} access log line(s)`] : []),
      ];
      const dumpText = c.files[CAPTURE_FILES.configDump];
      const rulesText = c.files[CAPTURE_FILES.iptables];
      // Without an observation, the draft's expectations are explain's, which needs an address.
      const noDraft = !to ? undefined : rulesText === undefined ? `no ${DRAFT_FILE} drafted: the pod's rules were not captured` : !m.pod.ip ? `no ${DRAFT_FILE} drafted: the pod's address is not known` : !live && isIP(to.host) !== 4 ? `no ${DRAFT_FILE} drafted: from files, --to needs an IPv4 address (explain predicts from the captured rules, which know no names)` : undefined;
      if (noDraft) lines.push(`note: ${noDraft}`);
      else if (to && m.pod.ip && rulesText !== undefined && dumpText !== undefined) {
        const config = configDumpFromText(CAPTURE_FILES.configDump, dumpText).config;
        writeFileSync(join(opts.out, DRAFT_FILE), draftScenario(m, config, rulesText, to), { mode: 0o600 });
        const drafted = loadScenarioFile(join(opts.out, DRAFT_FILE));
        lines.push(drafted.ok ? `drafted ${join(opts.out, DRAFT_FILE)}: edit its expectations, then pathlab run ${join(opts.out, DRAFT_FILE)}` : `drafted ${join(opts.out, DRAFT_FILE)}, which does not load yet:\n${drafted.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
      } else if (m.files.includes(CAPTURE_FILES.iptables) && m.pod.ip) {
        lines.push(`explain a connection: pathlab explain --config-dump ${join(opts.out, CAPTURE_FILES.configDump)} --iptables ${join(opts.out, CAPTURE_FILES.iptables)} --src ${m.pod.ip} --dst IP:PORT`);
        lines.push('draft a replay scenario of one: capture again with --to HOST:PORT');
      }
      ctx.io.out(`${lines.join('\n')}\n`);
    });
}

/** The drafted replay scenario beside a capture's files. */
export const DRAFT_FILE = 'scenario.yaml';
