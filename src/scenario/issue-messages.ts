// Turns zod's validation issues into messages a scenario author can act on:
// what is wrong and what was expected, at the field (or the unknown key) itself.
import type { z } from 'zod';
import { ScenarioSchema } from './schema.ts';
import type { FieldProblem } from './cross-checks.ts';
import type { FieldPath } from './problems.ts';

type AnySchema = z.core.$ZodType;

/** The schema node a document path leads to (through optionals, arrays, records). */
export function schemaAt(path: FieldPath, root: AnySchema = ScenarioSchema): AnySchema | undefined {
  let node: AnySchema | undefined = root;
  for (const seg of path) {
    node = node && unwrap(node);
    if (!node) return undefined;
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'object' && typeof seg === 'string') {
      node = (def.shape as Record<string, AnySchema>)[seg];
    } else if (def.type === 'array' && typeof seg === 'number') {
      node = def.element as AnySchema;
    } else if (def.type === 'record') {
      node = def.valueType as AnySchema;
    } else {
      return undefined;
    }
  }
  return node && unwrap(node);
}

function unwrap(node: AnySchema): AnySchema {
  let n = node;
  for (;;) {
    const def = n._zod.def as unknown as { type: string; innerType?: AnySchema; in?: AnySchema };
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) {
      n = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      n = def.in;
    } else {
      return n;
    }
  }
}

/** The keys an object schema allows, in declaration order. */
export function allowedKeys(node: AnySchema | undefined): string[] {
  if (!node) return [];
  const def = unwrap(node)._zod.def as unknown as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v === 'number' && !Number.isInteger(v) ? 'the number' : typeof v} ${String(v)}`;
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
};

/** Closest allowed key by edit distance, for "did you mean". */
/** How many unknown fields of one mapping are named one by one. */
export const MAX_UNKNOWN_NAMED = 100;

function closest(word: string, options: string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    // The distance is at least the difference in length: no need to compute it past the limit.
    if (Math.abs(o.length - word.length) > limit) continue;
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return bestD <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** One zod issue → the problems to report (an unknown-keys issue names each key). */
export function describeIssue(issue: z.core.$ZodIssue, data: unknown, root: AnySchema = ScenarioSchema): FieldProblem[] {
  const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(schemaAt(path, root));
      const expected = allowed.join(', ');
      // Each unknown field is named, up to a screenful; a mapping with thousands is named once for the rest.
      const named = issue.keys.slice(0, MAX_UNKNOWN_NAMED).map((key) => {
        const guess = closest(key, allowed);
        const hint = guess ? `did you mean "${guess}"? ` : '';
        return { path: [...path, key], atKey: true, message: `unknown field "${key}" (${hint}expected one of: ${expected})` };
      });
      const rest = issue.keys.length - named.length;
      return rest > 0 ? [...named, { path: [...path, issue.keys[MAX_UNKNOWN_NAMED]!], atKey: true, message: `and ${rest} more unknown fields from here on (expected one of: ${expected})` }] : named;
    }
    case 'invalid_type': {
      const value = valueAt(data, issue.path);
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      if (value === undefined) {
        return [{ path, message: `required field is missing (expected ${expected})` }];
      }
      return [{ path, message: `expected ${expected}, got ${describeValue(value)}` }];
    }
    case 'invalid_value': {
      const value = valueAt(data, issue.path);
      const options = issue.values.map((v) => JSON.stringify(v)).join(', ');
      if (value === undefined) return [{ path, message: `required field is missing (expected ${options})` }];
      return issue.values.length === 1
        ? [{ path, message: `expected ${options}, got ${describeValue(value)}` }]
        : [{ path, message: `expected one of ${options}, got ${describeValue(value)}` }];
    }
    case 'too_small':
    case 'too_big': {
      const value = valueAt(data, issue.path);
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'array') {
        return [{ path, message: issue.code === 'too_small' ? `needs at least ${limit} item(s)` : `has more than ${limit} item(s)` }];
      }
      if (issue.origin === 'string') {
        return [{ path, message: issue.code === 'too_small' ? (limit === 1 ? 'must not be empty' : `must have at least ${limit} characters`) : `must have at most ${limit} characters` }];
      }
      return [{ path, message: customOr(issue.message, `${issue.code === 'too_small' ? 'must be at least' : 'must be at most'} ${limit}`, value) }];
    }
    case 'invalid_format': {
      const value = valueAt(data, issue.path);
      return [{ path, message: customOr(issue.message, `has the wrong format (${issue.format})`, value) }];
    }
    case 'invalid_union': {
      const value = valueAt(data, issue.path);
      return [{ path, message: `expected an IPv4 address or "None", got ${describeValue(value)}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

/** zod's default messages start with "Invalid"/"Too"; ours are already plain sentences. */
function customOr(message: string, fallback: string, value: unknown): string {
  const base = /^(Invalid|Too (small|big))/.test(message) ? fallback : message;
  return `${base}, got ${describeValue(value)}`;
}
