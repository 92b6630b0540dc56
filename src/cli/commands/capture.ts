// `pathlab capture`: a live pod's rules, sidecar configuration and context, into a folder.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { CaptureError, capturePod, type Captured } from '../../lab/cluster/capture.ts';
import { IMAGES, imageRef } from '../../lab/kind/versions.ts';
import { CAPTURE_FILES, CaptureLoadError, loadCapture } from '../../scenario/capture.ts';

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

export function registerCapture(program: Command, ctx: CliContext): void {
  program
    .command('capture')
    .description("save a live pod's iptables rules, sidecar config_dump (with endpoints; private keys redacted), labels, annotations, mesh config and versions into a folder, and optionally one connection from it")
    .requiredOption('--context <name>', 'the kubeconfig context of the pod\'s cluster')
    .requiredOption('--pod <ns/name>', 'the pod, e.g. default/productpage-v1-7d9c-xk2')
    .requiredOption('--out <dir>', 'the capture folder (new, or empty)')
    .option('--to <host:port>', 'also make one connection from the pod (nc, as a captured user) and record it, its conntrack entries and its access log lines')
    .addHelpText(
      'after',
      `
Read-only but for one thing: no guard override is needed, since nothing of the cluster is
changed except that reading the pod's rules adds an ephemeral container with NET_ADMIN to it
(what kubectl debug adds; Kubernetes keeps it in the pod's spec until the pod goes). Where the
cluster refuses that, the capture says so and keeps the rest.

Files: ${Object.values(CAPTURE_FILES).join(', ')}. Explain a connection from it offline:
  pathlab explain --config-dump DIR/${CAPTURE_FILES.configDump} --iptables DIR/${CAPTURE_FILES.iptables} --src POD_IP --dst IP:PORT

Exit codes: 0 captured, 2 bad input (no such pod or context, a folder that is not empty), 3 the
cluster refused (exec into the pod, a pod without a sidecar).`,
    )
    .action(async (opts: { context: string; pod: string; out: string; to?: string }) => {
      if (existsSync(opts.out) && readdirSync(opts.out).length > 0) throw new CliError(`--out ${opts.out}: not empty; a capture goes into a new or empty folder`, EXIT_BAD_INPUT);
      const c = await captureThroughContext(opts);
      mkdirSync(opts.out, { recursive: true });
      for (const [name, text] of Object.entries(c.files)) writeFileSync(join(opts.out, name), text, { mode: 0o600 });
      // What was written is read back as any capture is: a capture that would be refused on load is not left unsaid.
      try {
        loadCapture(opts.out);
      } catch (e) {
        if (e instanceof CaptureLoadError) throw new CliError(`the capture in ${opts.out} does not load:\n${e.message}`, EXIT_ENVIRONMENT);
        throw e;
      }
      const m = c.manifest;
      ctx.io.out(
        [
          `captured ${m.pod.namespace}/${m.pod.name} (Istio ${m.versions.istio}, Envoy ${m.versions.envoy}) into ${opts.out}: ${Object.keys(c.files).sort().join(', ')}`,
          ...m.notes.map((n) => `note: ${n}`),
          ...(m.probe ? [`connection to ${m.probe.to}: exit ${m.probe.exitCode}; ${m.probe.accessLog.length} access log line(s)`] : []),
          ...(m.files.includes(CAPTURE_FILES.iptables) && m.pod.ip
            ? [`explain a connection: pathlab explain --config-dump ${join(opts.out, CAPTURE_FILES.configDump)} --iptables ${join(opts.out, CAPTURE_FILES.iptables)} --src ${m.pod.ip} --dst IP:PORT`]
            : []),
        ].join('\n') + '\n',
      );
    });
}
