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

/** The Istio release the kind backend installs unless --istio-version names another of KIND_ISTIO_RELEASES. */
export const ISTIO_VERSION = '1.30.3';

/** An Istio release archive per platform (istioctl is bin/istioctl in it). */
function archives(version: string, sums: Readonly<Record<string, string>>, source: Readonly<Record<string, string>>): Readonly<Record<string, PinnedArtifact>> {
  const file: Record<string, string> = { 'linux-amd64': 'linux-amd64', 'linux-arm64': 'linux-arm64', 'darwin-amd64': 'osx-amd64', 'darwin-arm64': 'osx-arm64' };
  return Object.fromEntries(
    Object.entries(sums).map(([platform, sha256]) => [
      platform,
      { url: `https://github.com/istio/istio/releases/download/${version}/istio-${version}-${file[platform]}.tar.gz`, sha256, source: source[platform]!, member: `istio-${version}/bin/istioctl` },
    ]),
  );
}

/**
 * The Istio releases the kind backend installs: the current minor and the previous one, each
 * archive by the sha256 Istio publishes next to it (`<archive>.sha256`), as other repositories
 * record them (`source`). `--istio-version` names one of them (or its minor); any other is
 * refused with this list.
 */
export const KIND_ISTIO_RELEASES: Readonly<Record<string, Readonly<Record<string, PinnedArtifact>>>> = {
  '1.30.3': archives(
    '1.30.3',
    {
      'linux-amd64': '55ada076ba1b37af49e8a24e5e539b4abccabdb33894c923279edd293eea3993',
      'linux-arm64': '926d265818e8ab69de9f81bfe78447c3bc8f4ae32a356a39545b790bfcfd63e5',
      'darwin-amd64': '9a2b70d8257861156336c89bf33251b90cc77924116c10a281d39d996d4f0bac',
      'darwin-arm64': '4d78e3effac3253c9348cef73563af405dc3429bea9536eae98a724ee81761c7',
    },
    {
      'linux-amd64': 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl=1.30.3, istioctl_linux_amd64_SHA256SUM, commit 02b378ff); the same value in a toolchain lock of another repository (istio-1.30.3-linux-amd64.tar.gz)',
      'linux-arm64': 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl_linux_arm64_SHA256SUM)',
      'darwin-amd64': 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl_darwin_amd64_SHA256SUM)',
      'darwin-arm64': 'cert-manager/makefile-modules modules/tools/00_mod.mk (istioctl_darwin_arm64_SHA256SUM)',
    },
  ),
  // The previous minor. 1.29.2 (2026-04-13, istio/istio.io content/en/news/releases/1.29.x/announcing-1.29.2)
  // is the newest 1.29 release whose checksums a published file records; 1.29.3-1.29.8 exist, but no
  // source here gave their archives' checksums, and a digest is never guessed.
  '1.29.2': archives(
    '1.29.2',
    {
      'linux-amd64': '904bbf1b917dd0135aa55b99cbfa34edd0a188fdeeeef09bb995d8e8e3165112',
      'linux-arm64': 'c4130d32359446fa5e4820c0543d06e2e424883c6890f0f8c59f3ac69dd4b44e',
      'darwin-amd64': '0bd51e88f8a2568892523752e12ce720793e4b9a9b25bdd4555d5932048e2bf1',
      'darwin-arm64': 'dffa0ff011774cf65fbae5d53f84d54bd12b541a35cff68be60db1c6674f03b4',
    },
    Object.fromEntries(
      ['linux_amd64', 'linux_arm64', 'darwin_amd64', 'darwin_arm64'].map((k) => [
        k.replace('_', '-'),
        `cert-manager/makefile-modules modules/tools/00_mod.mk at commit 70ef3707 (istioctl=1.29.2, istioctl_${k}_SHA256SUM); the same values vendored in cert-manager/trust-manager make/_shared/tools/00_mod.mk at 26c85934`,
      ]),
    ),
  ),
};

/** The archives of the default release (ISTIO_VERSION). */
export const ISTIOCTL_ARTIFACTS = KIND_ISTIO_RELEASES[ISTIO_VERSION]!;

/**
 * The pinned release `--istio-version` names: a release (`1.29.8`), its minor (`1.29`), or
 * `current` (the default); undefined when none is pinned.
 */
export function kindIstioRelease(asked: string): string | undefined {
  const v = asked.trim().replace(/^v/, '');
  if (v === 'current') return ISTIO_VERSION;
  if (KIND_ISTIO_RELEASES[v]) return v;
  return Object.keys(KIND_ISTIO_RELEASES).find((r) => r.split('.').slice(0, 2).join('.') === v);
}

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
  // Runs the lab's own echo app (src/lab/netns/agents/echo-app.ts, bundled), in the `echo`
  // pods and in the external hosts, so that they answer on kind exactly as in the netns lab.
  node: {
    ref: 'docker.io/library/node:20-alpine',
    digest: 'sha256:fb4cd12c85ee03686f6af5362a0b0d56d50c58a04632e6c0fb8363f609372293',
    source: 'docker-library/repo-info repos/node/remote/20-alpine.md (the index of node 20.20.2 on Alpine 3.23.4, built 2026-04-15); the same digest in several unrelated Dockerfiles and CI files',
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

/** The pins for a platform (`linux-amd64`, `darwin-arm64`, ...) and a release of KIND_ISTIO_RELEASES. */
export function kindPins(platform = hostPlatform(), istioVersion = ISTIO_VERSION): KindPins {
  const istioctl = KIND_ISTIO_RELEASES[istioVersion]?.[platform];
  return {
    istioVersion,
    istioctl: istioctl ?? {
      url: '',
      sha256: UNPINNED,
      source: `no Istio ${istioVersion} archive pinned for platform ${platform}`,
      member: `istio-${istioVersion}/bin/istioctl`,
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
