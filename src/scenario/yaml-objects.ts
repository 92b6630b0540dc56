// YAML from untrusted files, parsed in linear time: duplicate keys found in one pass (yaml's own
// check compares every pair of keys of a mapping), aliases capped, deep nesting and NUL bytes
// refused with a clear word. Pure.
import { parseAllDocuments, visit, type Document } from 'yaml';

/** Aliases a document may expand; YAML "billion laughs" files exceed it at once. */
export const MAX_ALIAS_COUNT = 200;

/** Where each key that repeats an earlier key of its mapping stands (scalar keys compared by value, as YAML does). */
export function duplicateKeyOffsets(doc: Document): number[] {
  const out: number[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = pair.key as { value?: unknown; range?: [number, number, number] } | null;
        if (!key || !('value' in key)) continue;
        if (seen.has(key.value) && key.range) out.push(key.range[0]);
        seen.add(key.value);
      }
    },
  });
  return out;
}

/** The documents of a multi-document YAML text as plain values, or what is wrong with it. */
export function parseYamlObjects(text: string): { objects: unknown[] } | { problem: string } {
  if (text.includes('\0')) return { problem: 'not a text file (a NUL byte)' };
  let docs: Document[];
  try {
    docs = parseAllDocuments(text, { uniqueKeys: false, prettyErrors: false }) as Document[];
  } catch (e) {
    return { problem: e instanceof RangeError ? 'nested too deeply to read' : (e as Error).message };
  }
  const objects: unknown[] = [];
  for (const [k, d] of docs.entries()) {
    if (d.errors.length) return { problem: `document ${k + 1}: ${d.errors[0]!.message.replace(/\s+/g, ' ').trim()}` };
    if (duplicateKeyOffsets(d).length) return { problem: `document ${k + 1}: a key appears twice in the same mapping` };
    try {
      objects.push(d.toJS({ maxAliasCount: MAX_ALIAS_COUNT }));
    } catch (e) {
      return { problem: `document ${k + 1}: ${e instanceof RangeError ? 'nested too deeply to read' : `too many aliases (more than ${MAX_ALIAS_COUNT})`}` };
    }
  }
  return { objects };
}
