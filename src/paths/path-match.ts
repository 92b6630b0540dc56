// Expected against observed, hop by hop. An expected path is partial: its hops must appear in
// that order, others may come between (cilium's connectivity tests match paths the same way).
// Each expected hop says only what it cares about: an iptables hop's rules must appear in
// order among the observed rules (and its effect must be the observed effect, when given); an
// envoy/wire/app hop's key=value pairs must all be in the observed hop (listeners in order);
// a reply hop's text must begin the observed reply. Must-not hops must match no observed hop.
// An unnamed filter chain (`chain=#2`, explain's name for it) is satisfied by an observed hop
// that names no chain: Envoy logs no name for it.
// Pure: hops come parsed (the loader parses expected hops once; observe and predict build them).
import { formatHop, isUnnamedChain, type Hop } from './hop.ts';

/** Does the observed hop satisfy what the expected hop asks? */
export function hopMatches(expected: Hop, observed: Hop): boolean {
  if (expected.kind !== observed.kind) return false;
  switch (expected.kind) {
    case 'iptables': {
      const o = observed as Extract<Hop, { kind: 'iptables' }>;
      let i = 0;
      for (const step of o.steps) {
        const e = expected.steps[i];
        if (e && e.table === step.table && e.chain === step.chain && e.rule === step.rule) i++;
      }
      if (i < expected.steps.length) return false;
      if (expected.effect && (!o.effect || o.effect.target !== expected.effect.target || (expected.effect.arg ?? o.effect.arg) !== o.effect.arg)) return false;
      return true;
    }
    case 'envoy':
    case 'wire':
    case 'app': {
      const o = observed as Extract<Hop, { kind: 'envoy' | 'wire' | 'app' }>;
      // Listeners are a sequence (the hand-off); the other keys are a set.
      const want = expected.attrs.filter(([k]) => k === 'listener').map(([, v]) => v);
      const have = o.attrs.filter(([k]) => k === 'listener').map(([, v]) => v);
      let j = 0;
      for (const l of have) if (l === want[j]) j++;
      if (j < want.length) return false;
      const unnamed = (k: string, v: string) => k === 'chain' && isUnnamedChain(v) && !o.attrs.some(([ok]) => ok === 'chain');
      return expected.attrs.filter(([k]) => k !== 'listener').every(([k, v]) => o.attrs.some(([ok, ov]) => ok === k && ov === v) || unnamed(k, v));
    }
    case 'reply': {
      const o = observed as Extract<Hop, { kind: 'reply' }>;
      if (expected.closed) return o.closed === true || o.text === '';
      return !o.closed && o.text.startsWith(expected.text);
    }
  }
}

export interface PathDifference {
  /** Index of the expected hop that was not found (in order), or -1-i for must-not hop i that was seen. */
  index: number;
  /** The expected hop, or the must-not hop that was seen (index < 0). */
  expected: string;
  /** The observed hop at the place the expected one should have been (or the forbidden one seen). */
  observed: string | null;
  why: string;
}

export interface PathMatch {
  /** For each expected hop, the index of the observed hop that satisfied it (null: none, in order). */
  matched: Array<number | null>;
  /** The must-not hops that were observed. */
  notExpectedSeen: Hop[];
  /** The first difference a reader should look at, when there is one. */
  difference?: PathDifference;
}

/** Compares the expected hops (in order) and the must-not hops with the observed path. */
export function matchPath(expected: readonly Hop[], notExpected: readonly Hop[], observed: readonly Hop[]): PathMatch {
  const matched: Array<number | null> = [];
  let difference: PathDifference | undefined;
  let at = 0;
  for (const [i, want] of expected.entries()) {
    let found = -1;
    for (let k = at; k < observed.length; k++) {
      if (hopMatches(want, observed[k]!)) {
        found = k;
        break;
      }
    }
    if (found >= 0) {
      matched.push(found);
      at = found + 1;
      continue;
    }
    matched.push(null);
    if (difference) continue;
    const sameKind = observed.slice(at).findIndex((o) => o.kind === want.kind);
    const near = sameKind >= 0 ? observed[at + sameKind]! : null;
    const earlier = observed.slice(0, at).some((o) => hopMatches(want, o));
    difference = {
      index: i,
      expected: formatHop(want),
      observed: near ? formatHop(near) : null,
      why: earlier
        ? 'it was observed, but before the hop expected ahead of it'
        : near
          ? `the ${want.kind} hop observed here differs`
          : `no ${want.kind} hop was observed after the previous expected hop`,
    };
  }
  const notExpectedSeen: Hop[] = [];
  for (const [i, bad] of notExpected.entries()) {
    const k = observed.findIndex((o) => hopMatches(bad, o));
    if (k < 0) continue;
    notExpectedSeen.push(bad);
    difference ??= { index: -1 - i, expected: formatHop(bad), observed: formatHop(observed[k]!), why: 'a hop the scenario rules out was observed' };
  }
  return { matched, notExpectedSeen, ...(difference ? { difference } : {}) };
}

/**
 * The predicted hops no observed hop satisfies, in the notation: a model gap, reported, never a
 * failure. The test is the scenario's own (hopMatches): a predicted hop is a gap exactly when,
 * written into expect.path, it would fail the probe.
 */
export function predictionGaps(predicted: readonly Hop[], observed: readonly Hop[]): string[] {
  return predicted.filter((p) => !observed.some((o) => hopMatches(p, o))).map(formatHop);
}

/**
 * Does explain's Envoy hop say what the probe pod's own sidecar logged: the listeners (the
 * hand-off), the cluster, the response flags and, when both sides name it, the filter chain (an
 * unnamed chain, `#N` in explain, logs no name)? undefined when neither has one (no sidecar of
 * the probe pod on the path); the target pod's sidecar is not predicted, so not compared.
 */
export function envoyAgreement(predicted: readonly Hop[], logged: Hop | undefined): boolean | undefined {
  const p = predicted.find((h): h is Extract<Hop, { kind: 'envoy' }> => h.kind === 'envoy');
  const o = logged?.kind === 'envoy' ? logged : undefined;
  if (!p && !o) return undefined;
  if (!p || !o) return false;
  const all = (h: typeof p, k: string) => h.attrs.filter(([key]) => key === k).map(([, v]) => v);
  const same = (k: string) => all(p, k).join(' ') === all(o, k).join(' ');
  const [pc, oc] = [all(p, 'chain')[0], all(o, 'chain')[0]];
  const chains = pc === undefined || oc === undefined || isUnnamedChain(pc) || pc === oc;
  return same('listener') && same('cluster') && same('flags') && chains;
}
