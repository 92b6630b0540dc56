// A kubeconfig for a local peer that speaks the Kubernetes API without TLS. client-node refuses
// a plain-http server unless skipTLSVerify is set ("HTTP protocol is not allowed when
// skipTLSVerify is not set or false"); the peers are on 127.0.0.1 without TLS.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { main } from '../../src/cli/main.ts';
import { bufferIo } from '../../src/cli/io.ts';

export function kubeConfigFor(server: string, name = 'kind-pathlab-test'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name, server, skipTLSVerify: true }],
    users: [{ name }],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  });
  return kc;
}

/** `pathlab ARGS` with a kubeconfig file (KUBECONFIG) whose context `context` names the peer at `url`. */
export async function pathlabWithKubeconfig(url: string, context: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-kubeconfig-'));
  writeFileSync(join(dir, 'config'), kubeConfigFor(url, context).exportConfig());
  const before = process.env.KUBECONFIG;
  process.env.KUBECONFIG = join(dir, 'config');
  try {
    const io = bufferIo();
    const code = await main(args, io);
    return { code, out: io.stdout(), err: io.stderr() };
  } finally {
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
    rmSync(dir, { recursive: true, force: true });
  }
}
