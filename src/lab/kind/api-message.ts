// What the API server said, from a client-node error: its Status message when the body carries one.

/** The message of an API error (client-node's ApiException carries the Status as its body). */
export function apiMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const s = JSON.parse(body) as { message?: string; code?: number };
      if (s.message) return `${s.code ?? ''} ${s.message}`.trim();
    } catch {
      return body.slice(0, 300);
    }
  }
  return (e as Error).message ?? String(e);
}
