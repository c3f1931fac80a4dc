/**
 * A token bucket for an optional bandwidth limit: `take(n)` resolves once n more bytes fit in the
 * budget. One second of burst, so short pauses do not waste the link.
 */
export class Throttle {
  private available: number;
  private last: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(bytesPerSecond > 0)) {
      throw new RangeError(`bandwidth limit ${bytesPerSecond} must be a positive number of bytes per second`);
    }
    this.available = bytesPerSecond;
    this.last = now();
  }

  async take(bytes: number): Promise<void> {
    this.refill();
    this.available -= bytes;
    if (this.available < 0) {
      await this.sleep((-this.available / this.bytesPerSecond) * 1000);
    }
  }

  private refill(): void {
    const t = this.now();
    this.available = Math.min(
      this.bytesPerSecond,
      this.available + ((t - this.last) / 1000) * this.bytesPerSecond,
    );
    this.last = t;
  }
}
