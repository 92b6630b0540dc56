// A run on a running kind lab or cluster names the Istio it really has: the tag of istiod's
// image, read from the Kubernetes API (a local peer answering the one call made, as the
// Deployment istioctl installs reads), and "unknown" when it cannot be read.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { kubeConfigFor } from '../../../helpers/kube.ts';
import { imageTag, installedIstio } from '../../../../src/lab/kind/backend.ts';

async function apiPeer(image: string | undefined): Promise<{ url: string; paths: string[]; close: () => void }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    if (image === undefined || req.url !== '/apis/apps/v1/namespaces/istio-system/deployments/istiod') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace: 'istio-system' }, spec: { selector: { matchLabels: { app: 'istiod' } }, template: { spec: { containers: [{ name: 'discovery', image }] } } } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(deployment));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, close: () => server.close() };
}

test('the tag of istiod\'s image is the installed release', async (t) => {
  const peer = await apiPeer('docker.io/istio/pilot:1.29.2');
  t.teardown(peer.close);
  t.is(await installedIstio(kubeConfigFor(peer.url)), '1.29.2');
  t.deepEqual(peer.paths, ['/apis/apps/v1/namespaces/istio-system/deployments/istiod']);
});

test('no istiod (a cluster without Istio): undefined, the run says unknown', async (t) => {
  const peer = await apiPeer(undefined);
  t.teardown(peer.close);
  t.is(await installedIstio(kubeConfigFor(peer.url)), undefined);
});

test('image references: tag, tag with digest, registry with a port', (t) => {
  t.is(imageTag('gcr.io/istio-release/pilot:1.30.3@sha256:' + 'a'.repeat(64)), '1.30.3');
  t.is(imageTag('localhost:5000/istio/pilot:1.29.2-distroless'), '1.29.2-distroless');
  t.is(imageTag('istio/pilot'), undefined);
});
