// A scenario's lab from a capture folder (`lab: { capture: DIR }`): the captured pod, as the
// netns lab replays it, and the scenario's own hosts beside it. The pod keeps its captured name,
// namespace, address, labels and annotations; the lab's Istio era is its version's (explain
// reads it; the replay itself runs the captured rules and configuration as they are); its pod
// network is the /24 around its address unless the scenario gives one; the sidecar's uid is the
// one the captured rules exempt (`--uid-owner`), so the replayed Envoy's own connections pass as
// they did. Reads the folder through loadCapture's checks.
import { isAbsolute, resolve } from 'node:path';
import { resolveIstioVersion } from '../mesh/iptables/index.ts';
import { CAPTURE_FILES, CaptureLoadError, loadCapture, type LoadedCapture } from './capture.ts';
import type { LabCaptureSchema, LabSpec } from './schema.ts';
import type { z } from 'zod';

export type LabCaptureRef = z.infer<typeof LabCaptureSchema>;

/** The annotations a capture lab's setup may change, and how the replay applies each to the captured rules. */
export const CAPTURE_ANNOTATIONS = ['traffic.sidecar.istio.io/excludeOutboundPorts'] as const;

/** The era of a captured Istio version ("1.1.1" → 1.2, "1.19.3" → 1.18, unknown → current). */
export function captureEra(version: string): { era: LabSpec['istio']['version']; note?: string } {
  try {
    return { era: resolveIstioVersion(version).era };
  } catch (e) {
    return { era: 'current', note: `Istio version "${version}": ${(e as Error).message}; explain reads it as current Istio` };
  }
}

/** The uid the captured rules exempt from capture (the sidecar's), if they name one. */
export function capturedProxyUid(rules: string): number | undefined {
  const m = /--uid-owner (\d+)/.exec(rules);
  return m ? Number(m[1]) : undefined;
}

/** The lab a capture reference stands for, or the problems (each with the field it is about). */
export function captureLab(ref: LabCaptureRef, baseDir: string): { lab: LabSpec; capture: LoadedCapture } | { problems: Array<{ field: string; message: string }> } {
  if (isAbsolute(ref.capture)) return { problems: [{ field: 'capture', message: `${ref.capture}: a capture folder is named relative to the scenario's folder` }] };
  const dir = resolve(baseDir, ref.capture);
  let capture: LoadedCapture;
  try {
    capture = loadCapture(dir);
  } catch (e) {
    const problems = e instanceof CaptureLoadError ? e.problems : [(e as Error).message];
    return { problems: problems.map((message) => ({ field: 'capture', message })) };
  }
  const { pod, versions } = capture.manifest;
  const problems: Array<{ field: string; message: string }> = [];
  for (const need of [CAPTURE_FILES.configDump, CAPTURE_FILES.iptables]) {
    if (!capture.files[need]) problems.push({ field: 'capture', message: `${ref.capture}: has no ${need}: a replay needs the sidecar's configuration and the pod's rules` });
  }
  if (!pod.ip) problems.push({ field: 'capture', message: `${ref.capture}/capture.yaml: pod.ip is not set: a replay needs the pod's address (its listeners are named by it)` });
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pod.name) || pod.name.length > 63) problems.push({ field: 'capture', message: `${ref.capture}/capture.yaml: pod.name ${JSON.stringify(pod.name)} is not a DNS label` });
  if (problems.length) return { problems };
  const { era } = captureEra(versions.istio);
  const [a, b, c] = pod.ip!.split('.');
  const uid = capturedProxyUid(capture.files[CAPTURE_FILES.iptables]!);
  const lab: LabSpec = {
    istio: { version: era, ...ref.istio },
    ...(uid !== undefined ? { proxy: { uid } } : {}),
    network: ref.network ?? { podCidr: `${a}.${b}.${c}.0/24` },
    pods: [
      { name: pod.name, namespace: pod.namespace, ip: pod.ip!, meshed: true, workload: 'toolbox', labels: pod.labels, annotations: pod.annotations },
      ...(ref.pods ?? []).map((p) => ({ ...p, meshed: p.meshed ?? false })),
    ],
    ...(ref.services ? { services: ref.services } : {}),
    ...(ref.externalHosts ? { externalHosts: ref.externalHosts } : {}),
    capture: dir,
  };
  return { lab, capture };
}
