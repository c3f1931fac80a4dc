const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/**
 * Bytes as a Kubernetes quantity with a binary suffix and at most one decimal ("40.2Gi", "512Mi",
 * "900"): what status fields such as RecoveryPoint status.size hold for people and printer columns,
 * while exact byte counts sit in the numeric fields next to them.
 */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < binarySuffixes.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = unit === 0 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${rounded}${binarySuffixes[unit] ?? ''}`;
}

/** `done` as a whole percentage of `total` for status.progress.percent: 0 while the total is unknown. */
export function percentOf(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
}
