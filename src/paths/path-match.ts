// Expected against observed, hop by hop. An expected path is partial: its hops must appear in
// that order, others may come between (cilium's connectivity tests match paths the same way).
// Each expected hop says only what it cares about: an iptables hop's rules must appear in
// order among the observed rules (and its effect must be the observed effect, when given); an
// envoy/wire/app hop's key=value pairs must all be in the observed hop (listeners in order);
// a reply hop's text must begin the observed reply. Must-not hops must match no observed hop.
// Pure.
import { HopSyntaxError, parseHop, type Hop } from './hop.ts';

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
      return expected.attrs.filter(([k]) => k !== 'listener').every(([k, v]) => o.attrs.some(([ok, ov]) => ok === k && ov === v));
    }
    case 'reply': {
      const o = observed as Extract<Hop, { kind: 'reply' }>;
      if (expected.closed) return o.closed === true || o.text === '';
      return !o.closed && o.text.startsWith(expected.text);
    }
  }
}

export interface PathDifference {
  /** Index of the expected hop that was not found (in order), or of the must-not hop that was. */
  index: number;
  expected: string;
  /** The observed hop at the place the expected one should have been (or the forbidden one seen). */
  observed: string | null;
  why: string;
}

/** Compares the expected hops (in order) and the must-not hops with the observed path. */
export function matchPath(expected: readonly string[], notExpected: readonly string[], observed: readonly string[]): PathDifference | undefined {
  const obs = observed.map((t) => parseHop(t));
  let at = 0;
  for (const [i, text] of expected.entries()) {
    const want = parseHop(text);
    let found = -1;
    for (let k = at; k < obs.length; k++) {
      if (hopMatches(want, obs[k]!)) {
        found = k;
        break;
      }
    }
    if (found < 0) {
      const sameKind = obs.slice(at).findIndex((o) => o.kind === want.kind);
      const near = sameKind >= 0 ? observed[at + sameKind]! : null;
      const earlier = obs.slice(0, at).some((o) => hopMatches(want, o));
      return {
        index: i,
        expected: text,
        observed: near,
        why: earlier
          ? 'it was observed, but before the hop expected ahead of it'
          : near
            ? `the ${want.kind} hop observed here differs`
            : `no ${want.kind} hop was observed after the previous expected hop`,
      };
    }
    at = found + 1;
  }
  for (const [i, text] of notExpected.entries()) {
    const bad = parseHop(text);
    const k = obs.findIndex((o) => hopMatches(bad, o));
    if (k >= 0) return { index: -1 - i, expected: `not ${text}`, observed: observed[k]!, why: 'a hop the scenario rules out was observed' };
  }
  return undefined;
}

/**
 * The predicted hops no observed hop satisfies (a model gap, reported, never a failure). A
 * predicted hop outside the notation (explain names an upstream by cluster or by DNS name,
 * e.g. `wire iface=eth0 dst=cache.legacy.example.com:7000`) is reported as such instead of
 * aborting the run.
 */
export function predictionGaps(predicted: readonly string[], observed: readonly string[]): string[] {
  const gaps: string[] = [];
  for (const p of predicted) {
    try {
      if (!observed.some((o) => matchPath([p], [], [o]) === undefined)) gaps.push(`predicted but not observed: ${p}`);
    } catch (err) {
      if (!(err instanceof HopSyntaxError)) throw err;
      gaps.push(`predicted, not comparable (${err.message}): ${p}`);
    }
  }
  return gaps;
}
