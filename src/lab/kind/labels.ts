// Names and labels that tie everything a kind lab creates to its id. The cluster is
// `pathlab-<id>` (kubeconfig context `kind-pathlab-<id>`); every Kubernetes object the
// backend applies carries LAB_LABEL=<id>; the cluster itself is marked by LAB_LABEL and
// CREATED_BY on the kube-system namespace, which is what the guard reads.

export const LAB_LABEL = 'pathlab.dev/lab';
/** On kube-system: which tool created the cluster (the guard checks it with LAB_LABEL). */
export const CREATED_BY_ANNOTATION = 'pathlab.dev/created-by';
export const CREATED_BY = 'istio-pathlab';
/** On a scenario pod's template: the pod's name in the scenario (probes find pods by it). */
export const POD_LABEL = 'pathlab.dev/pod';
export const FIELD_MANAGER = 'pathlab';

export const CLUSTER_PREFIX = 'pathlab-';
/** A fixed id for --dry-run without --lab-id, so that the printed plan is stable. */
export const DRY_RUN_ID = 'dryrun';

const ID = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

export function checkLabId(id: string): string {
  if (!ID.test(id)) throw new Error(`lab id must be 1-32 lower-case letters, digits or "-", got ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

export const clusterName = (id: string) => `${CLUSTER_PREFIX}${id}`;
export const contextName = (id: string) => `kind-${clusterName(id)}`;
/** kind names its single node `<cluster>-control-plane`. */
export const nodeContainer = (id: string) => `${clusterName(id)}-control-plane`;

/** The lab id of a kind cluster name or context, if it is one of ours by name. */
export function labIdOf(nameOrContext: string): string | undefined {
  const m = /^(?:kind-)?pathlab-([a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?)$/.exec(nameOrContext);
  return m?.[1];
}

