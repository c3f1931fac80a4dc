const units: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const durationPattern = /^(\d+(ms|s|m|h|d|w))+$/;

/**
 * Parses durations as users write them in manifests: Go-style units plus days and weeks
 * ("60s", "1h30m", "14d", "2w"). Throws with the accepted form on anything else.
 */
export function parseDuration(text: string): number {
  if (!durationPattern.test(text)) {
    throw new Error(
      `'${text}' is not a duration: write a number and a unit (ms, s, m, h, d, w), e.g. 30s, 4h, 14d`,
    );
  }
  let total = 0;
  for (const [, amount, unit = ''] of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    total += Number(amount) * (units[unit] ?? 0);
  }
  return total;
}

/** A short human form of a duration in milliseconds ("3d4h", "45s"), for status and messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return `${Math.max(0, Math.round(ms))}ms`;
  }
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / seconds);
    if (n > 0) {
      parts.push(`${n}${unit}`);
      rest -= n * seconds;
    }
  }
  return parts.slice(0, 2).join('');
}
