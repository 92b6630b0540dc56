// Private keys out of an Envoy config dump before it is written anywhere: a capture of a live
// sidecar must never carry one. Envoy's admin already prints `[redacted]` for the private keys
// of the secrets it serves (SDS), but a dump may hold keys elsewhere (static secrets, a
// transport socket's inline key, an EnvoyFilter's config): every `private_key` / `privateKey`
// field, every PEM private key block in a string, and every base64 string that decodes to one is
// replaced. Pure.

export const REDACTED = '[redacted by pathlab capture]';
const PEM_KEY_SOURCE = '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----';
/** A new regex each use: a global one keeps its lastIndex between strings. */
const pemKey = (flags = '') => new RegExp(PEM_KEY_SOURCE, flags);
const KEY_FIELDS = new Set(['private_key', 'privateKey', 'password']);

function decodesToKey(s: string): boolean {
  if (s.length < 64 || !/^[A-Za-z0-9+/=\s]+$/.test(s)) return false;
  return /PRIVATE KEY/.test(Buffer.from(s, 'base64').toString('latin1'));
}

/** The dump with every private key replaced, and how many were. */
export function redactPrivateKeys(dump: unknown): { dump: unknown; redacted: number } {
  let redacted = 0;
  const walk = (v: unknown, key?: string): unknown => {
    if (key !== undefined && KEY_FIELDS.has(key) && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      // A DataSource: its inline key goes; a file name (filename: /etc/certs/key.pem) is no secret and stays.
      const inline = Object.keys(v).filter((k) => /^inline_?(bytes|string)$|^inline(Bytes|String)$/.test(k));
      if (inline.length === 0) return v;
      redacted++;
      const rest = Object.fromEntries(Object.entries(v).filter(([k]) => !inline.includes(k)));
      return { ...rest, inline_string: REDACTED };
    }
    if (typeof v === 'string') {
      if (pemKey().test(v)) {
        redacted++;
        return v.replace(pemKey('g'), REDACTED);
      }
      if (decodesToKey(v)) {
        redacted++;
        return Buffer.from(REDACTED).toString('base64');
      }
      return v;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return { dump: walk(dump), redacted };
}

/** Where a text still holds a private key (a PEM block, or base64 of one), for the checks on load; undefined when it holds none. */
export function privateKeyIn(text: string): string | undefined {
  const pem = pemKey().exec(text);
  if (pem) return `a PEM private key at character ${pem.index}`;
  for (const m of text.matchAll(/"([A-Za-z0-9+/=]{64,})"/g)) if (decodesToKey(m[1]!)) return `base64 of a private key at character ${m.index}`;
  return undefined;
}
