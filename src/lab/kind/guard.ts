// Fault injection needs a lab. The kind backend touches a kubeconfig context only when it
// is a kind cluster this tool created: the context is named kind-pathlab-<id> and the
// cluster's kube-system namespace carries pathlab.dev/lab=<id> and the created-by
// annotation (set by `lab up`). Anything else is refused unless the user names that exact
// context and says --i-know-this-is-not-a-lab.
import { CREATED_BY, CREATED_BY_ANNOTATION, LAB_LABEL, labIdOf } from './labels.ts';

export interface ContextFacts {
  /** The context the backend would use. */
  context: string;
  /** The cluster server URL of that context, when known. */
  server?: string;
  /** kube-system's labels and annotations as read from the cluster; undefined when unreadable. */
  kubeSystem?: { labels: Record<string, string>; annotations: Record<string, string> };
}

export interface GuardOverride {
  /** --context X */
  context?: string;
  /** --i-know-this-is-not-a-lab */
  iKnowThisIsNotALab?: boolean;
}

export type GuardDecision =
  | { allow: true; labId?: string; reason: string }
  | { allow: false; reason: string; fix: string };

const LOCAL_SERVER = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\/?$/;

function notALab(context: string, reason: string): GuardDecision {
  return {
    allow: false,
    reason: `refusing context "${context}": ${reason}`,
    fix: `start a lab with 'pathlab lab up --backend kind' and use its context (kind-pathlab-<id>), or, to run against this cluster anyway, pass --context ${context} --i-know-this-is-not-a-lab`,
  };
}

/**
 * The part of the decision that needs no word from the cluster: the override, the context's
 * name and its server. Undefined when the cluster must be asked (its kube-system labels).
 * Nothing is sent to a server this refuses: a context's credentials go only to a local kind API server.
 */
export function decideBeforeContact(facts: Omit<ContextFacts, 'kubeSystem'>, override: GuardOverride = {}): GuardDecision | undefined {
  if (override.iKnowThisIsNotALab) {
    if (override.context === undefined)
      return {
        allow: false,
        reason: '--i-know-this-is-not-a-lab needs the context it applies to',
        fix: `name it: --context ${facts.context} --i-know-this-is-not-a-lab`,
      };
    if (override.context !== facts.context)
      return {
        allow: false,
        reason: `--i-know-this-is-not-a-lab was given for context "${override.context}", not for "${facts.context}"`,
        fix: `use --context ${facts.context} if that is the cluster you mean`,
      };
    return { allow: true, reason: `context ${facts.context} accepted by --i-know-this-is-not-a-lab (not checked as a lab)` };
  }
  if (labIdOf(facts.context) === undefined) return notALab(facts.context, 'it is not named kind-pathlab-<id>, so it is not a kind cluster created by pathlab');
  if (facts.server !== undefined && !LOCAL_SERVER.test(facts.server)) return notALab(facts.context, `its server ${facts.server} is not a local kind API server (kind listens on 127.0.0.1)`);
  return undefined;
}

export function decideContext(facts: ContextFacts, override: GuardOverride = {}): GuardDecision {
  const early = decideBeforeContact(facts, override);
  if (early) return early;
  const id = labIdOf(facts.context)!;
  if (facts.kubeSystem === undefined) return notALab(facts.context, 'its kube-system namespace could not be read to confirm the lab label');
  const label = facts.kubeSystem.labels[LAB_LABEL];
  if (label !== id)
    return notALab(
      facts.context,
      label === undefined
        ? `kube-system has no ${LAB_LABEL} label: this cluster was not created by 'pathlab lab up'`
        : `kube-system says ${LAB_LABEL}=${label}, but the context names lab ${id}`,
    );
  if (facts.kubeSystem.annotations[CREATED_BY_ANNOTATION] !== CREATED_BY) return notALab(facts.context, `kube-system lacks ${CREATED_BY_ANNOTATION}=${CREATED_BY}`);
  return { allow: true, labId: id, reason: `context ${facts.context} is pathlab lab ${id}` };
}
