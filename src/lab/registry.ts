// The backends by name: the CLI and the AVA front end find a backend here and never branch on
// its name. Adding a backend is its folder under src/lab, its line here and its name in the
// schema's BACKENDS.
import type { Backend } from '../run/backend.ts';
import type { BackendName } from '../scenario/schema.ts';
import { kindBackend } from './kind/backend.ts';
import { netnsBackend } from './netns/backend.ts';
import { clusterBackend } from './cluster/backend.ts';

export const BACKEND_REGISTRY: Readonly<Record<BackendName, Backend>> = {
  netns: netnsBackend,
  kind: kindBackend,
  cluster: clusterBackend,
};

export const DEFAULT_BACKEND: BackendName = 'netns';

export function backendNamed(name: string): Backend | undefined {
  return Object.hasOwn(BACKEND_REGISTRY, name) ? BACKEND_REGISTRY[name as BackendName] : undefined;
}
