// Istio's own binaries, built from the Go module proxy into the user's cache: today pilot-agent,
// whose `istio-iptables` subcommand is what Istio's istio-init container runs. Built once per
// pinned commit, under a lock, checked by running it, and recorded beside it with the time the
// build took here.
//
// What this machine's module proxy serves decides what can be built (checked 2026-12-01):
// - istio.io/istio: three commits only (9739e10eb9d7 on release-1.30, eed52ebb66ad on
//   release-1.31, b01690e6db7d on master in April); the release tags' pseudo-versions
//   (1.29.0 … 1.30.3) are refused (403).
// - Those commits pin pseudo-versions of istio.io/api, istio.io/client-go and go-control-plane
//   that are refused too: the nearest served releases stand in (REPLACES below).
// - github.com/agentgateway/agentgateway/api is not served in any version, and every served
//   commit's istiod imports it, for one thing only: the controller of agentgateway's Gateway API
//   resources (pilot/pkg/config/kube/agentgateway, created in pilot/pkg/bootstrap). The build
//   takes a copy of the module's source and removes that controller from the bootstrap
//   (ISTIOD_PATCH below); nothing of sidecar configuration is touched. pilot-agent does not
//   import it and is built from the module as it is.
// - istiod's configuration generation is run through Istio's own fake discovery server
//   (pilot/test/xds) by go/istiod-gen/main.go, built here against the patched copy.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { exec, execOk } from '../lab/exec.ts';
import { packagePath } from '../lab/package-root.ts';

export interface IstioBuildPin {
  /** The lab's Istio version whose istio-init this build gives (the behaviour table's name). */
  istio: string;
  /** What the build is, in words a user can check. */
  label: string;
  /** The Istio minor its branch is (what a scenario's holdsFor range is checked against). */
  release: string;
  commit: string;
  /** The module proxy's pseudo-version of the commit. */
  pseudoVersion: string;
  /** The go directive of the commit's go.mod: the oldest Go that builds it. */
  goMin: string;
  /** Modules whose pinned pseudo-versions the proxy refuses, and the served release used instead. */
  replaces: ReadonlyArray<{ module: string; version: string }>;
  source: string;
}

export const ISTIO_BUILD_PINS: readonly IstioBuildPin[] = [
  {
    istio: 'current',
    label: 'istio/istio release-1.30 at 9739e10eb9d7 (2026-08-26, after 1.30.3)',
    release: '1.30',
    commit: '9739e10eb9d7',
    pseudoVersion: 'v0.0.0-20260826214018-9739e10eb9d7',
    goMin: '1.25.9',
    replaces: [
      { module: 'github.com/envoyproxy/go-control-plane/contrib', version: 'v1.36.1-0.20260713214202-ca8ce173c36f' },
      { module: 'github.com/envoyproxy/go-control-plane/envoy', version: 'v1.38.0' },
      { module: 'istio.io/api', version: 'v1.30.8' },
      { module: 'istio.io/client-go', version: 'v1.30.8' },
    ],
    source: 'the module at that pseudo-version: VERSION says 1.30, go.mod says go 1.25.9 and pins istio.io/api v1.30.4-0.20260824163423-69099aec2678 (refused here; v1.30.8 served)',
  },
];

/** The generator's source, in the checkout (read by root at build time only). */
const ISTIOD_GEN_MAIN = packagePath('go/istiod-gen/main.go');

function istiodGenSha(): string {
  return createHash('sha256').update(readFileSync(ISTIOD_GEN_MAIN)).digest('hex');
}

const cacheRoot = (cache = join(homedir(), '.cache', 'pathlab')) => cache;
export const istioHome = (pin: IstioBuildPin, cache?: string) => join(cacheRoot(cache), 'istio', pin.commit);

export interface BuiltIstio {
  pin: string;
  pilotAgent: string;
  /** go/istiod-gen: istiod's config generation, as config dumps (one-shot) or as the netns lab's xDS server (serve). */
  istiodGen: string;
  /** Istio's Envoy bootstrap template (tools/packaging/common/envoy_bootstrap.json of the pinned source): pilot-agent's --templateFile. */
  bootstrapTemplate: string;
  /** The sha256 of go/istiod-gen/main.go it was built from (a changed source is built again). */
  istiodGenSha: string;
  /** What `pilot-agent version` printed. */
  versionLine: string;
  buildSeconds: number;
  go: string;
}

/** The built pilot-agent of this pin, checked by running it; undefined when it is not built or broken. */
export async function builtIstio(pin: IstioBuildPin, cache?: string): Promise<BuiltIstio | undefined> {
  const record = join(istioHome(pin, cache), 'built.json');
  if (!existsSync(record)) return undefined;
  const b = JSON.parse(readFileSync(record, 'utf8')) as BuiltIstio;
  if (!b.istiodGen || !existsSync(b.istiodGen) || b.istiodGenSha !== istiodGenSha() || !b.bootstrapTemplate || !existsSync(b.bootstrapTemplate)) return undefined;
  const r = await exec([b.pilotAgent, 'version', '--short'], { timeoutMs: 30_000 });
  return r.exitCode === 0 ? { ...b, versionLine: r.stdout.trim() } : undefined;
}

/** Whether a build of istiod's generation is recorded for this Istio version (a quick check, without running it). */
export function istiodBuildRecorded(istio: string, cache?: string): boolean {
  const pin = ISTIO_BUILD_PINS.find((p) => p.istio === istio);
  return pin !== undefined && existsSync(join(istioHome(pin, cache), 'built.json'));
}

/** The Go on PATH, if it is at least `min` (go1.26.8 ≥ 1.25.9). */
export async function goFor(min: string): Promise<{ ok: boolean; version?: string }> {
  const r = await exec(['go', 'env', 'GOVERSION'], { timeoutMs: 30_000 }).catch(() => undefined);
  const v = r?.exitCode === 0 ? r.stdout.trim().replace(/^go/, '') : undefined;
  if (!v) return { ok: false };
  const num = (s: string) => s.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const [a, b] = [num(v), num(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return { ok: (a[i] ?? 0) > (b[i] ?? 0), version: v };
  return { ok: true, version: v };
}

/** The replace lines of a wrapper module: the served releases for the refused pseudo-versions, and more. */
function replaceBlock(pin: IstioBuildPin, extra: readonly string[] = []): string[] {
  return ['// Pseudo-versions the module proxy refuses, and the served releases used instead.', 'replace (', ...extra.map((l) => `\t${l}`), ...pin.replaces.map((r) => `\t${r.module} => ${r.module} ${r.version}`), ')', ''];
}

/** The wrapper module that builds the pin's pilot-agent: it requires istio.io/istio at the pin and swaps in the served releases. */
export function wrapperModule(pin: IstioBuildPin): { 'go.mod': string; 'tools.go': string } {
  return {
    'go.mod': ['module pathlab.local/istio-build', '', `go ${pin.goMin}`, '', `require istio.io/istio ${pin.pseudoVersion}`, '', ...replaceBlock(pin)].join('\n'),
    'tools.go': ['//go:build tools', '', 'package tools', '', 'import _ "istio.io/istio/pilot/cmd/pilot-agent"', ''].join('\n'),
  };
}

/** The module of go/istiod-gen, against the patched copy of istio.io/istio at `istioSrc`. */
export function istiodGenModule(pin: IstioBuildPin, istioSrc: string): string {
  return ['module pathlab.local/istiod-gen', '', `go ${pin.goMin}`, '', `require istio.io/istio ${pin.pseudoVersion}`, '', ...replaceBlock(pin, [`istio.io/istio => ${istioSrc}`])].join('\n');
}

/**
 * The one change to Istio's source: istiod's bootstrap no longer creates the agentgateway
 * controller (its API module is not served here). Each edit names the text it expects, so a
 * pin whose source differs fails here, loudly, instead of building something else.
 */
export const ISTIOD_PATCH: ReadonlyArray<{ file: string; remove: RegExp }> = [
  { file: 'pilot/pkg/bootstrap/configcontroller.go', remove: /\t"istio\.io\/istio\/pilot\/pkg\/config\/kube\/agentgateway"\n/ },
  { file: 'pilot/pkg/bootstrap/configcontroller.go', remove: /\t\tvar agwc \*agentgateway\.Controller\n\t\tif features\.EnableAgentgateway \{\n(?:\t\t\t.*\n)+?\t\t\}\n/ },
  { file: 'pilot/pkg/bootstrap/configcontroller.go', remove: /\t+if agwc != nil \{\n\t+agwc\.SetStatusWrite\(true, s\.statusManager\)\n\t+\}\n/ },
  { file: 'pilot/pkg/bootstrap/configcontroller.go', remove: /\t+if agwc != nil \{\n\t+agwc\.SetStatusWrite\(false, nil\)\n\t+\}\n/ },
  { file: 'pilot/pkg/bootstrap/server.go', remove: /\t"istio\.io\/istio\/pilot\/pkg\/config\/kube\/agentgateway"\n/ },
  { file: 'pilot/pkg/bootstrap/server.go', remove: /\n\tagentgatewayController +\*agentgateway\.Controller/ },
  { file: 'pilot/pkg/bootstrap/server.go', remove: /\t\ts\.XDSServer\.InitCollections\(s\.agentgatewayController\.Registrations\.\.\.\)\n/ },
];

/** Applies ISTIOD_PATCH to a copy of the module's source; throws when an edit does not find its text. */
export function patchIstioSource(dir: string): void {
  for (const edit of ISTIOD_PATCH) {
    const path = join(dir, edit.file);
    const text = readFileSync(path, 'utf8');
    if (!edit.remove.test(text)) throw new Error(`patching istio.io/istio: ${edit.file} has no ${edit.remove.source}`);
    writeFileSync(path, text.replace(edit.remove, ''));
  }
}

/**
 * Builds pilot-agent and go/istiod-gen for the pin into <cache>/istio/<commit>/bin (the Go module cache under
 * <cache>/go/mod, Go's build cache where Go keeps it), unless it is built. One build at a time:
 * a second caller waits for the lock (a folder; a lock left by a dead process is taken over).
 */
export async function buildIstio(pin: IstioBuildPin, opts: { cache?: string; log?: (line: string) => void } = {}): Promise<BuiltIstio> {
  const log = opts.log ?? (() => {});
  const have = await builtIstio(pin, opts.cache);
  if (have) return have;
  const go = await goFor(pin.goMin);
  if (!go.ok) throw new Error(`building Istio's pilot-agent needs Go ≥ ${pin.goMin} on PATH (found ${go.version ?? 'none'}): https://go.dev/dl/`);
  const home = istioHome(pin, opts.cache);
  mkdirSync(home, { recursive: true });
  const lock = join(home, 'build.lock');
  await takeLock(lock, log);
  try {
    const again = await builtIstio(pin, opts.cache);
    if (again) return again;
    const src = join(home, 'src');
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    for (const [name, text] of Object.entries(wrapperModule(pin))) writeFileSync(join(src, name), text);
    const bin = join(home, 'bin');
    const tmpBin = `${bin}.tmp-${process.pid}`;
    rmSync(tmpBin, { recursive: true, force: true });
    mkdirSync(tmpBin, { recursive: true });
    log(`building Istio's pilot-agent and istiod's generation (${pin.label}) with Go ${go.version} into ${bin}: a first build fetches ~700 packages and takes minutes`);
    const t0 = performance.now();
    const env = { ...process.env, GOMODCACHE: join(cacheRoot(opts.cache), 'go', 'mod'), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
    const r = await exec(['go', 'build', '-trimpath', '-ldflags', `-X istio.io/istio/pkg/version.buildVersion=${pin.istio === 'current' ? '1.30' : pin.istio}`, '-o', `${tmpBin}/`, 'istio.io/istio/pilot/cmd/pilot-agent'], { cwd: src, env, timeoutMs: 40 * 60_000 });
    if (r.exitCode !== 0) throw new Error(`go build of pilot-agent failed (exit ${r.exitCode}):\n${(r.spawnError ?? r.stderr).trim().split('\n').slice(-15).join('\n')}`);
    // istiod's generation: a copy of the module's source with ISTIOD_PATCH, and go/istiod-gen against it.
    const dl = JSON.parse((await execOk(['go', 'mod', 'download', '-json', `istio.io/istio@${pin.pseudoVersion}`], { cwd: src, env, timeoutMs: 20 * 60_000 })).stdout) as { Dir: string };
    const istioSrc = join(home, 'istio-src');
    rmSync(istioSrc, { recursive: true, force: true });
    cpSync(dl.Dir, istioSrc, { recursive: true });
    await execOk(['chmod', '-R', 'u+w', istioSrc]);
    patchIstioSource(istioSrc);
    const genSrc = join(home, 'istiod-gen');
    rmSync(genSrc, { recursive: true, force: true });
    mkdirSync(genSrc, { recursive: true });
    copyFileSync(ISTIOD_GEN_MAIN, join(genSrc, 'main.go'));
    writeFileSync(join(genSrc, 'go.mod'), istiodGenModule(pin, istioSrc));
    log('building go/istiod-gen (istiod\'s config generation, Istio\'s fake discovery server) against the patched source');
    const g = await exec(['go', 'build', '-trimpath', '-o', `${tmpBin}/istiod-gen`, '.'], { cwd: genSrc, env, timeoutMs: 40 * 60_000 });
    if (g.exitCode !== 0) throw new Error(`go build of istiod-gen failed (exit ${g.exitCode}):\n${(g.spawnError ?? g.stderr).trim().split('\n').slice(-15).join('\n')}`);
    // The bootstrap template pilot-agent renders for Envoy, from the same source (an istio-proxy image has it at /var/lib/istio/envoy/).
    copyFileSync(join(istioSrc, 'tools', 'packaging', 'common', 'envoy_bootstrap.json'), join(tmpBin, 'envoy_bootstrap_tmpl.json'));
    const buildSeconds = Math.round((performance.now() - t0) / 1000);
    rmSync(bin, { recursive: true, force: true });
    renameSync(tmpBin, bin);
    const pilotAgent = join(bin, 'pilot-agent');
    const v = await execOk([pilotAgent, 'version', '--short']);
    const built: BuiltIstio = { pin: pin.commit, pilotAgent, istiodGen: join(bin, 'istiod-gen'), bootstrapTemplate: join(bin, 'envoy_bootstrap_tmpl.json'), istiodGenSha: istiodGenSha(), versionLine: v.stdout.trim(), buildSeconds, go: go.version! };
    writeFileSync(join(home, 'built.json'), `${JSON.stringify(built, null, 2)}\n`);
    log(`built pilot-agent and istiod-gen in ${buildSeconds} s: ${bin}`);
    return built;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function takeLock(lock: string, log: (line: string) => void): Promise<void> {
  for (let waited = 0; ; waited++) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch {
      // Held: by a live process, wait; by a dead one (its pid gone), take it over.
      let pid: number;
      try {
        pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        pid = 0;
      }
      const alive = pid > 0 && existsSync(`/proc/${pid}`);
      const old = Date.now() - statSync(lock).mtimeMs > 60_000;
      if (!alive && (pid > 0 || old)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (waited === 0) log(`another build of pilot-agent is under way (pid ${pid}): waiting for it`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
