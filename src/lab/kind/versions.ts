// Every version the kind backend depends on, pinned, with where the value was read. A digest
// or checksum is never guessed: a value not found in a published source is UNPINNED, and
// `lab up` refuses to run until it is pinned (exit 3, naming the field).
//
// To move to a new Istio or kind release, change the values here together with their
// `source` notes; the plan golden (test/golden/kind-lab-up-plan.txt) shows every use.

/** Marks a value that no published source gave us. `lab up` refuses while any remains. */
export const UNPINNED = 'UNPINNED' as const;
export type Pinned = string | typeof UNPINNED;

export interface PinnedArtifact {
  url: string;
  sha256: Pinned;
  /** Where the checksum was read (a published file, at a commit). */
  source: string;
  /** Path of the binary inside the archive. */
  member: string;
}

export interface PinnedImage {
  /** Image name and tag, as `docker pull` takes it. */
  ref: string;
  digest: Pinned;
  source: string;
}

export const ISTIO_VERSION = '1.30.3';

/**
 * The Istio release archive (istioctl is bin/istioctl in it). Istio publishes
 * `<archive>.sha256` next to each archive; the values below are those checksums as two
 * independent repositories record them.
 */
export const ISTIOCTL_ARTIFACTS: Readonly<Record<string, PinnedArtifact>> = {
  'linux-amd64': {
    url: `https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/istio-${ISTIO_VERSION}-linux-amd64.tar.gz`,
    sha256: '55ada076ba1b37af49e8a24e5e539b4abccabdb33894c923279edd293eea3993',
    source:
      'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl=1.30.3, istioctl_linux_amd64_SHA256SUM, commit 02b378ff); the same value in a toolchain lock of another repository (istio-1.30.3-linux-amd64.tar.gz)',
    member: `istio-${ISTIO_VERSION}/bin/istioctl`,
  },
  'linux-arm64': {
    url: `https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/istio-${ISTIO_VERSION}-linux-arm64.tar.gz`,
    sha256: '926d265818e8ab69de9f81bfe78447c3bc8f4ae32a356a39545b790bfcfd63e5',
    source: 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl_linux_arm64_SHA256SUM)',
    member: `istio-${ISTIO_VERSION}/bin/istioctl`,
  },
  'darwin-amd64': {
    url: `https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/istio-${ISTIO_VERSION}-osx-amd64.tar.gz`,
    sha256: '9a2b70d8257861156336c89bf33251b90cc77924116c10a281d39d996d4f0bac',
    source: 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl_darwin_amd64_SHA256SUM)',
    member: `istio-${ISTIO_VERSION}/bin/istioctl`,
  },
  'darwin-arm64': {
    url: `https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/istio-${ISTIO_VERSION}-osx-arm64.tar.gz`,
    sha256: '4d78e3effac3253c9348cef73563af405dc3429bea9536eae98a724ee81761c7',
    source: 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl_darwin_arm64_SHA256SUM)',
    member: `istio-${ISTIO_VERSION}/bin/istioctl`,
  },
};

export const KIND_VERSION = 'v0.32.0';

/**
 * kind v0.32.0's default node image (Kubernetes 1.36.1), by digest. Istio 1.30 supports
 * Kubernetes 1.32-1.36 (istio/istio.io data/compatibility/supportStatus.yml).
 */
export const KIND_NODE_IMAGE: PinnedImage = {
  ref: 'kindest/node:v1.36.1',
  digest: 'sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5',
  source: 'kubernetes-sigs/kind tag v0.32.0 (cda67ef8), pkg/apis/config/defaults/image.go',
};

/** Tools the CI workflow installs (the user's machine brings its own; doctor checks them). */
export const TOOL_PINS = {
  kind: {
    version: KIND_VERSION,
    linuxAmd64Sha256: '50030de23cf40a18505f20426f6a8506bedf13c6e509244bd1fa9463721b0f54',
    source: 'cert-manager/makefile-modules modules/tools/00_mod.mk (kind=v0.32.0, kind_linux_amd64_SHA256SUM)',
  },
  kubectl: {
    version: 'v1.36.3',
    linuxAmd64Sha256: 'ebbd080e7c2e275093b55915722043257eb24004363e20acb3c4d71919f88336',
    source: 'cert-manager/makefile-modules modules/tools/00_mod.mk (kubectl=v1.36.3, kubectl_linux_amd64_SHA256SUM)',
  },
} as const;

const BOOKINFO_TAG = '1.20.3';
const bookinfo = (svc: string): PinnedImage => ({
  ref: `registry.istio.io/release/examples-bookinfo-${svc}:${BOOKINFO_TAG}`,
  digest: UNPINNED,
  source: `istio/istio ${ISTIO_VERSION} samples/bookinfo/platform/kube/bookinfo.yaml (tag); no published digest found`,
});

/** Workload images by tag, and by digest where a published source gave one. */
export const IMAGES = {
  productpage: bookinfo('productpage-v1'),
  details: bookinfo('details-v1'),
  ratings: bookinfo('ratings-v1'),
  'reviews-v1': bookinfo('reviews-v1'),
  'reviews-v2': bookinfo('reviews-v2'),
  'reviews-v3': bookinfo('reviews-v3'),
  'tcp-echo': {
    ref: 'registry.istio.io/release/tcp-echo-server:1.3',
    digest: UNPINNED,
    source: `istio/istio ${ISTIO_VERSION} samples/tcp-echo/tcp-echo.yaml (tag); no published digest found`,
  },
  'hello-app': {
    ref: 'gcr.io/google_samples/hello-app:1.0',
    digest: 'sha256:c62ead5b8c15c231f9e786250b07909daf6c266d0fcddd93fea882eb722c3be4',
    source: 'seed 002 (hello-app:1.0); digest from google/k8s-digester README (gcr.io/google_samples/hello-app:1.0)',
  },
  toolbox: {
    ref: 'docker.io/nicolaka/netshoot:v0.14',
    digest: 'sha256:7f08c4aff13ff61a35d30e30c5c1ea8396eac6ab4ce19fd02d5a4b3b5d0d09a2',
    source: 'the same digest for nicolaka/netshoot:v0.14 in three unrelated repositories (curl, nc, tcpdump, iptables)',
  },
  redis: {
    ref: 'docker.io/library/redis:7.4.7-alpine',
    digest: 'sha256:02f2cc4882f8bf87c79a220ac958f58c700bdec0dfb9b9ea61b62fb0e8f1bfcf',
    source: 'the same digest for redis:7.4.7-alpine in many unrelated repositories (compose files, CI)',
  },
} as const satisfies Record<string, PinnedImage>;


/** `name:tag@sha256:…` when the digest is pinned, else `name:tag`. */
export function imageRef(img: PinnedImage): string {
  return img.digest === UNPINNED ? img.ref : `${img.ref}@${img.digest}`;
}

export interface KindPins {
  istioVersion: string;
  istioctl: PinnedArtifact;
  nodeImage: PinnedImage;
  images: Readonly<Record<string, PinnedImage>>;
}

/** The pins for a platform (`linux-amd64`, `darwin-arm64`, ...). */
export function kindPins(platform = hostPlatform()): KindPins {
  const istioctl = ISTIOCTL_ARTIFACTS[platform];
  return {
    istioVersion: ISTIO_VERSION,
    istioctl: istioctl ?? {
      url: '',
      sha256: UNPINNED,
      source: `no Istio archive pinned for platform ${platform}`,
      member: `istio-${ISTIO_VERSION}/bin/istioctl`,
    },
    nodeImage: KIND_NODE_IMAGE,
    images: IMAGES,
  };
}

export function hostPlatform(): string {
  const os = process.platform === 'darwin' ? 'darwin' : process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return `${os}-${arch}`;
}

/**
 * The pins `lab up` cannot run without, each with what to do. Image digests of samples
 * are not required (they are pulled by tag when no digest is known); the node image digest
 * and the istioctl checksum are.
 */
export function missingPins(pins: KindPins): string[] {
  const out: string[] = [];
  if (pins.nodeImage.digest === UNPINNED)
    out.push(`kind node image ${pins.nodeImage.ref}: pin its digest in src/lab/kind/versions.ts (KIND_NODE_IMAGE)`);
  if (pins.istioctl.sha256 === UNPINNED || pins.istioctl.url === '')
    out.push(`istioctl ${pins.istioVersion}: pin the archive's published sha256 in src/lab/kind/versions.ts (ISTIOCTL_ARTIFACTS); ${pins.istioctl.source}`);
  return out;
}
