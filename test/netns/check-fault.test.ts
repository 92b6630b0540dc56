// --check-fault on a real run: the seed 003 outage, run without its fault (the HTTP Service on
// 7000), must fail, and the report names the first wrong hop: without the Service no
// 0.0.0.0_7000 listener exists, so the connection stays on virtualOutbound and goes through.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

netnsTest(`${NEEDS_ROOT} pathlab run --check-fault: the outage fails without its fault, and the first wrong hop is named`, (t) => {
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', 'scenarios/incident-7000/outage-legacy.yaml', '--check-fault'], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /✔ incident-7000-outage-legacy: failed without its fault, as it must/);
  t.regex(
    r.stdout,
    /redis-7000-answers-400: first differing hop, expected #2: envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7000 — observed envoy listener=virtualOutbound cluster=PassthroughCluster upstream=10\.0\.0\.6:7000/,
  );
  t.regex(r.stdout, /check-fault passed/);
});

test('pathlab run with an unknown reporter is a usage error (exit 2)', (t) => {
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', '--reporter', 'pdf'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 2);
  t.regex(r.stderr, /--reporter pdf: expected one of console, json, junit, tap, html/);
});

test('pathlab run with an unknown control plane is a usage error (exit 2); kind refuses the model', (t) => {
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', '--control-plane', 'pilot'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 2);
  t.regex(r.stderr, /--control-plane pilot: expected one of auto, istiod, model/);
  const k = spawnSync(process.execPath, ['bin/pathlab.js', 'run', '--backend', 'kind', '--dry-run', '--control-plane', 'model'], { encoding: 'utf8', timeout: 60_000 });
  t.is(k.status, 2);
  t.regex(k.stderr, /--control-plane model: the kind backend runs Istio's own istiod/);
});

netnsTest(`${NEEDS_ROOT} --control-plane istiod on an era istiod is not built for fails that lab, saying why; the model runs it`, (t) => {
  const run = (plane: string) => spawnSync(process.execPath, ['bin/pathlab.js', 'run', '--control-plane', plane, 'scenarios/incident-7000/outage-legacy.yaml'], { encoding: 'utf8', timeout: 120_000 });
  const istiod = run('istiod');
  t.is(istiod.status, 1, istiod.stderr);
  t.regex(istiod.stdout, /--control-plane istiod: Istio 1\.5 is not built here/);
  const model = run('model');
  t.is(model.status, 0, model.stdout + model.stderr);
  t.regex(model.stdout, /ran on control plane: the Envoy model's synthesis for Istio 1\.5 behaviour/);
});
