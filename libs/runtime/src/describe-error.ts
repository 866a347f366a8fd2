/**
 * One line that says what went wrong: the error's message and those of its causes (a client's
 * "Connections failed." says nothing without the TLS or SASL failure inside it), without repeats.
 * Walks `cause`, `originalError` (kafkajs), `errors` (AggregateError; the first three) and keeps a
 * broker's own words (`serverErrorMessage`, as @platformatic/kafka reports them).
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number) => {
    if (e === null || e === undefined || seen.has(e) || depth > 6) return;
    seen.add(e);
    const message = e instanceof Error ? e.message : typeof e === 'object' ? '' : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message.split('\n')[0]!);
    if (typeof e !== 'object') return;
    const o = e as Record<string, unknown>;
    if (typeof o.serverErrorMessage === 'string' && !parts.includes(o.serverErrorMessage)) parts.push(o.serverErrorMessage);
    if (typeof o.apiId === 'string' && !parts.some((p) => p.includes(o.apiId as string))) parts.push(o.apiId);
    walk(o.originalError, depth + 1);
    walk(o.cause, depth + 1);
    if (Array.isArray(o.errors)) for (const inner of o.errors.slice(0, 3)) walk(inner, depth + 1);
  };
  walk(err, 0);
  return parts.join(': ') || String(err);
}
