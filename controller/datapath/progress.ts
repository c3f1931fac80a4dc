/** A one-line progress bar on a terminal (stderr); silent when stderr is not a TTY. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

export function progressBar(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): { update: (done: number, total: number) => void; end: () => void } {
  if (!stream.isTTY) {
    return { update: () => undefined, end: () => undefined };
  }
  const started = performance.now();
  let last = 0;
  return {
    update(done, total) {
      const now = performance.now();
      if (now - last < 100 && done < total) {
        return;
      }
      last = now;
      const fraction = total > 0 ? done / total : 1;
      const width = 30;
      const filled = Math.round(fraction * width);
      const rate = done / Math.max((now - started) / 1000, 0.001);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s `,
      );
    },
    end() {
      stream.write('\n');
    },
  };
}
