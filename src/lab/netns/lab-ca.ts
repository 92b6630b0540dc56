// The lab's certificate authority and one workload certificate per meshed pod, made with
// Debian's openssl. Each pod's Envoy uses them (as SDS files) for the mTLS leg between two sidecars, with
// the SPIFFE identity Istio would give the pod in its URI SAN.
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execOk } from '../exec.ts';

export interface PodCert {
  ca: string;
  cert: string;
  key: string;
}

/** Where the certificate and key named `name` live in `dir`: `<name>.pem`, `<name>-key.pem`. */
export function certPaths(dir: string, name: string): { cert: string; key: string } {
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
}

/** A self-signed P-256 certificate for `subject`, valid two days: `<dir>/<name>.pem` and `<dir>/<name>-key.pem`. */
export async function selfSigned(dir: string, name: string, subject: string): Promise<{ cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const { cert, key } = certPaths(dir, name);
  await execOk(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', subject]);
  return { cert, key };
}

/** Creates the CA in `dir` (ca.pem, ca-key.pem). */
export async function createLabCa(dir: string, labId: string): Promise<{ ca: string; caKey: string }> {
  const { cert: ca, key: caKey } = await selfSigned(dir, 'ca', `/O=pathlab lab ${labId}/CN=pathlab lab CA`);
  chmodSync(ca, 0o644);
  return { ca, caKey };
}

/** A workload certificate for spiffe://cluster.local/ns/<ns>/sa/<sa>, readable by the proxy uid. */
export async function createPodCert(
  dir: string,
  ca: { ca: string; caKey: string },
  pod: { name: string; namespace: string; serviceAccount?: string; spiffe?: string },
  owner: { uid: number; gid: number },
): Promise<PodCert> {
  const { cert, key } = certPaths(dir, pod.name);
  const csr = join(dir, `${pod.name}.csr`);
  const ext = join(dir, `${pod.name}.ext`);
  const spiffe = pod.spiffe ?? `spiffe://cluster.local/ns/${pod.namespace}/sa/${pod.serviceAccount ?? pod.name}`;
  writeFileSync(ext, `subjectAltName=URI:${spiffe}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await execOk(['openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/O=pathlab/CN=${`${pod.name}.${pod.namespace}`.slice(0, 64)}`]);
  // An explicit serial per certificate: -CAcreateserial shares one serial file, which
  // certificates signed at the same moment would both rewrite.
  const serial = `0x${randomBytes(8).toString('hex')}`;
  await execOk(['openssl', 'x509', '-req', '-in', csr, '-CA', ca.ca, '-CAkey', ca.caKey, '-set_serial', serial, '-out', cert, '-days', '2', '-extfile', ext]);
  for (const f of [key, cert]) chmodSync(f, 0o640);
  for (const f of [key, cert]) chownSync(f, 0, owner.gid);
  return { ca: ca.ca, cert, key };
}
