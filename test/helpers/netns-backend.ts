// The netns backend with a test's change made to each lab it starts (a sidecar killed, a
// positive control that fails), each lab's id recorded so the test can remove what is left.
import { netnsBackend } from '../../src/lab/netns/backend.ts';
import type { StartedNetnsLab } from '../../src/lab/netns/netns-lab.ts';
import type { Backend, StartedBackend } from '../../src/run/backend.ts';

/** The netns lab behind a started backend. */
export const netnsLabOf = (lab: StartedBackend): StartedNetnsLab => (lab as unknown as { lab: StartedNetnsLab }).lab;

export function netnsBackendWith(created: string[], change: (lab: StartedBackend) => void): Backend {
  return {
    ...netnsBackend,
    open: async (o) => {
      const session = await netnsBackend.open(o);
      return {
        ...session,
        start: async (g) => {
          const lab = await session.start(g);
          created.push(netnsLabOf(lab).id);
          change(lab);
          return lab;
        },
      };
    },
  };
}
