// What a run produces, per probe and per scenario: the expected, predicted and observed paths,
// the first hop where they differ, and the evidence behind it. Every reporter (console, JSON,
// JUnit, TAP) reads these types only. The zod schema is the single definition: the JSON
// report's published schema (schema/report.schema.json) is generated from it.
import { z } from 'zod';
import { BACKENDS } from '../scenario/schema.ts';

export const REPORT_API_VERSION = 'pathlab/v1';

export const EvidenceSchema = z.strictObject({
  /** What produced it: `tcpdump -i eth0`, `conntrack -L`, `xtables-monitor --trace`, `access log`, `reply`. */
  source: z.string(),
  /** The lines that matter, as the tool printed them. */
  lines: z.array(z.string()),
  /** Optional: the hop (text as in `expected` or `observed`) this evidence is behind; reporters show it under that hop. */
  hop: z.string().optional(),
});

/** A failed probe's evidence bundle: files under the run's --out folder, each a tool's own format. */
export const BundleSchema = z.strictObject({
  /** The bundle's folder, relative to the report's folder (--out): `evidence/<scenario>/<probe>`. */
  dir: z.string(),
  /** Its files, each relative to the report's folder, with what it holds and the pod it is of. */
  files: z.array(z.strictObject({ path: z.string(), what: z.string(), pod: z.string().optional() })),
});

export const ProbeResultSchema = z.strictObject({
  scenario: z.string(),
  probe: z.string(),
  /** `incident-7000/outage · app (10.64.0.14) → 10.0.0.6:7000` */
  title: z.string(),
  status: z.enum(['passed', 'failed', 'skipped']),
  /** Why it failed or was skipped, in one line. */
  reason: z.string().optional(),
  expected: z.array(z.string()),
  notExpected: z.array(z.string()),
  predicted: z.array(z.string()),
  observed: z.array(z.string()),
  /** For each `expected` hop, the index into `observed` of the hop that satisfied it (null: none). Reporters align the columns by it. */
  matched: z.array(z.int().nullable()),
  /** The `notExpected` (must-not) hops that were observed. */
  notExpectedSeen: z.array(z.string()),
  /** Index into `expected` of the first hop not observed (or -1-i for must-not hop i seen: `expected` is then that must-not hop). */
  firstDifference: z
    .strictObject({ index: z.int(), expected: z.string(), observed: z.string().nullable(), why: z.string() })
    .optional(),
  /** The predicted hops (as in `predicted`) no observed hop satisfies: where explain and the observation disagree, a model gap, reported, not fatal. */
  predictionGaps: z.array(z.string()),
  /** Whether explain's Envoy hop (on the sidecar's own config_dump) is the one the sidecar logged; absent when the probe met no sidecar. */
  explainAgrees: z.boolean().optional(),
  /** Outcome as named results: reached, refused, reset, timeout, closed, http-error. */
  outcome: z.string().optional(),
  reply: z.string().optional(),
  evidence: z.array(EvidenceSchema),
  /** Retries made for a named transient cause, each with its cause. */
  retries: z.array(z.string()),
  durationMs: z.number(),
  /** The evidence bundle written for a failed probe when the run has --out (pcap, rules, config dumps, logs). */
  bundle: BundleSchema.optional(),
  /** The lab hosts the expected path names (`pod/details`, `svc/web`) and the address each had in this lab: `expected` has the addresses. */
  labHosts: z.record(z.string(), z.string()).optional(),
});

export const ScenarioResultSchema = z.strictObject({
  name: z.string(),
  file: z.string(),
  backend: z.enum(BACKENDS),
  /** `with-setup` (the normal run) or `without-change` (--check-fault's second run). */
  mode: z.enum(['with-setup', 'without-change']),
  status: z.enum(['passed', 'failed', 'skipped']),
  reason: z.string().optional(),
  probes: z.array(ProbeResultSchema),
  durationMs: z.number(),
  /** What made the lab's paths: its control plane, its istio-init rules, its proxy (absent when the lab never started). */
  producedBy: z
    .strictObject({
      controlPlane: z.string(),
      istioInit: z.string(),
      proxy: z.string(),
      /** The Istio the lab behaved as, the Envoy its sidecars ran, its lab id (absent in reports written before pathlab recorded them). */
      istioVersion: z.string().optional(),
      envoyVersion: z.string().optional(),
      labId: z.string().optional(),
    })
    .optional(),
});

export const RunReportSchema = z
  .strictObject({
    apiVersion: z.literal(REPORT_API_VERSION),
    kind: z.literal('RunReport'),
    startedAt: z.string(),
    durationMs: z.number(),
    backend: z.enum(BACKENDS),
    /** The version of the pathlab that ran it (absent in reports written before pathlab recorded it). */
    pathlab: z.string().optional(),
    /** `--istio-version`: every scenario's lab ran as this Istio (each scenario's producedBy says which it ran as). */
    istioVersion: z.string().optional(),
    checkFault: z.boolean(),
    scenarios: z.array(ScenarioResultSchema),
    summary: z.strictObject({
      scenarios: z.int(),
      passed: z.int(),
      failed: z.int(),
      skipped: z.int(),
      probes: z.int(),
      /** Probes whose Envoy hop explain and the sidecar's access log both gave, and how many of them agree. */
      explain: z.strictObject({ agree: z.int(), compared: z.int() }),
    }),
  })
  .meta({ title: 'istio-pathlab run report', description: 'What `pathlab run --reporter json` writes' });

/**
 * How a scenario came out against what its run asks: a normal run must pass; --check-fault's run
 * without its change must fail (its change is what the scenario is about), so that failure is good.
 * A run without its change that failed before any probe ran (its lab, its setup) proves nothing
 * of the probes: it is bad too (unprobed).
 */
export function outcomeOf(r: { mode: 'with-setup' | 'without-change'; status: 'passed' | 'failed' | 'skipped'; probes: readonly unknown[] }): 'good' | 'bad' | 'skipped' {
  if (r.status === 'skipped') return 'skipped';
  if (unprobed(r)) return 'bad';
  return (r.status === 'passed') === (r.mode === 'with-setup') ? 'good' : 'bad';
}

/** A --check-fault run without its change that failed before any of its probes ran. */
export function unprobed(r: { mode: 'with-setup' | 'without-change'; status: 'passed' | 'failed' | 'skipped'; probes: readonly unknown[] }): boolean {
  return r.mode === 'without-change' && r.status === 'failed' && r.probes.length === 0;
}

export type Evidence = z.infer<typeof EvidenceSchema>;
export type Bundle = z.infer<typeof BundleSchema>;
export type ProbeResult = z.infer<typeof ProbeResultSchema>;
export type ScenarioResult = z.infer<typeof ScenarioResultSchema>;
export type RunReport = z.infer<typeof RunReportSchema>;
