// The Kubernetes and Istio objects a scenario's setup applies, validated against the real
// schemas (kubernetes-models: the Kubernetes OpenAPI schema; @kubernetes-models/istio: Istio's
// CRD schemas), before any reaches a lab: a Service whose port is a word, a ServiceEntry with an
// unknown resolution, fail at `validate` with the field, not in the middle of a run. Pure.
import { Service } from 'kubernetes-models/v1/Service';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { Sidecar } from '@kubernetes-models/istio/networking.istio.io/v1/Sidecar';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';

type Model = new (o: never) => { validate(): void };

/** The model of each kind a setup step may apply, by apiVersion and kind. */
const MODELS: Record<string, Model> = {
  'v1/Service': Service as unknown as Model,
  'networking.istio.io/v1/ServiceEntry': ServiceEntry as unknown as Model,
  'networking.istio.io/v1/Sidecar': Sidecar as unknown as Model,
  'networking.istio.io/v1/DestinationRule': DestinationRule as unknown as Model,
  'networking.istio.io/v1/VirtualService': VirtualService as unknown as Model,
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication as unknown as Model,
};

/** What is wrong with an object a setup step applies, by its schema, or undefined. */
export function objectProblem(o: { apiVersion?: unknown; kind?: unknown }): string | undefined {
  // The older API versions of Istio's kinds (v1beta1, v1alpha3: what releases before 1.22 served)
  // carry the same fields as v1 for these kinds: they are checked against the v1 schema.
  const apiVersion = String(o.apiVersion).replace(/^(networking\.istio\.io)\/(v1beta1|v1alpha3)$/, '$1/v1').replace(/^(security\.istio\.io)\/v1beta1$/, '$1/v1');
  const key = `${apiVersion}/${String(o.kind)}`;
  const Model = MODELS[key];
  if (!Model) return `${String(o.apiVersion)} ${String(o.kind)} is not an object the lab applies (${Object.keys(MODELS).map((k) => k.replace(/\/(?=[^/]+$)/, ' ')).join(', ')})`;
  try {
    new Model(o as never).validate();
    return undefined;
  } catch (e) {
    // The schema's words: "data/spec/ports/0/port must be integer" → "spec.ports[0].port must be integer".
    return (e as Error).message.replace(/data\/([^\s,]*)/g, (_, p: string) => p.split('/').map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i ? `.${s}` : s)).join(''));
  }
}
