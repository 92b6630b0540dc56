// A kubeconfig for a local peer that speaks the Kubernetes API without TLS. client-node refuses
// a plain-http server unless skipTLSVerify is set ("HTTP protocol is not allowed when
// skipTLSVerify is not set or false"); the peers are on 127.0.0.1 without TLS.
import { KubeConfig } from '@kubernetes/client-node';

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
