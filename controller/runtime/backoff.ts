/** Exponential back-off per attempt: base·2^(attempt), capped, with optional jitter in [0, jitter). */
export function backoffDelay(
  attempt: number,
  { baseMs = 5, maxMs = 300_000, jitter = 0, random = Math.random } = {},
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 40));
  return Math.round(exp * (1 + jitter * random()));
}
