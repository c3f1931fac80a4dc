/**
 * A small seeded pseudo-random generator (SplitMix32-style): every trial and every fuzz input is a
 * pure function of its seed, so a failure replays exactly from the seed the test prints.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.next() / 2 ** 32) * n);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) {
      throw new RangeError('pick from an empty list');
    }
    return item;
  }

  /** A byte in [1, 255]: XOR with it always changes the byte. */
  nonZeroByte(): number {
    return 1 + this.below(255);
  }

  /** A derived seed for trial `i`, so trials stay independent of each other's draws. */
  static seedFor(base: number, label: string, i: number): number {
    let h = base >>> 0;
    for (const c of `${label}:${i}`) {
      h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    }
    return h;
  }
}
