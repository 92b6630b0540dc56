// Data printed as JSON or YAML, the same way by every command (`-o json|yaml`, cli/output.ts).
import { stringify } from 'yaml';

/** The data as JSON (two-space indent) or YAML, with a final newline. */
export function formatData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data, { lineWidth: 0 });
}
