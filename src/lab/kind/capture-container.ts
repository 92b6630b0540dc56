// The capture container (evidence.ts captureContainer: the toolbox image as root with NET_RAW and
// NET_ADMIN) added to a pod as an ephemeral container, once, and waited for until it runs. The
// probes' tcpdump and, where a node cannot be entered, the pod's rules are read in it.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { apiMessage } from './api-message.ts';
import { CAPTURE_CONTAINER, captureContainer } from './evidence.ts';
import { setTimeout as sleep } from 'node:timers/promises';


/** The cluster refused the ephemeral container (RBAC, admission): its words. */
export class CaptureContainerRefused extends Error {
  override name = 'CaptureContainerRefused';
}

/** Adds the capture container to the pod unless it has one, and resolves when it runs (up to 60 s). */
export async function ensureCaptureContainer(api: CoreV1Api, target: { namespace: string; name: string }, image: string): Promise<void> {
  let now: V1Pod = await api.readNamespacedPod(target);
  if (!(now.spec?.ephemeralContainers ?? []).some((c) => c.name === CAPTURE_CONTAINER)) {
    now.spec!.ephemeralContainers = [...(now.spec!.ephemeralContainers ?? []), captureContainer(CAPTURE_CONTAINER, image)];
    try {
      now = await api.replaceNamespacedPodEphemeralcontainers({ ...target, body: now });
    } catch (e) {
      throw new CaptureContainerRefused(apiMessage(e), { cause: e });
    }
  }
  for (let i = 0; i < 120; i++) {
    if (now.status?.ephemeralContainerStatuses?.find((c) => c.name === CAPTURE_CONTAINER)?.state?.running) return;
    await sleep(500);
    now = await api.readNamespacedPod(target);
  }
  throw new Error(`${target.namespace}/${target.name}: the ephemeral container ${CAPTURE_CONTAINER} did not start within 60 s`);
}
