/**
 * Time as the controller sees it. Schedules, retention, back-off and timeouts read the clock through
 * this interface so tests can drive them deterministically.
 */
export interface Clock {
  now(): Date;
  /** Calls `fn` after `ms` of this clock's time; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
  /**
   * Milliseconds on the time base `setTimer` counts in, which never jumps: due times compared
   * across a step of the wall clock (NTP, a resumed VM, a test moving the clock) stay in order.
   */
  timerTimeMs(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  timerTimeMs: () => performance.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => {
      clearTimeout(timer);
    };
  },
};

/** A clock that moves only when told to: timers fire in order as `advance` passes their due time. */
export class ManualClock implements Clock {
  private current: number;
  private timers: { due: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(start: Date | string = '2026-01-01T00:00:00Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  timerTimeMs(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { due: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward, firing every timer that falls due on the way, in due order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.due > target) {
        break;
      }
      this.timers.shift();
      this.current = next.due;
      next.fn();
    }
    this.current = target;
  }

  set(time: Date | string): void {
    const target = new Date(time).getTime();
    this.advance(Math.max(0, target - this.current));
  }
}

/**
 * Real time shifted by an offset that only grows: timers run on the wall clock, while schedules
 * see a moved clock. Integration tests use it to reach the next schedule slot without waiting.
 */
export class ShiftedClock implements Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  setTimer(ms: number, fn: () => void): () => void {
    return systemClock.setTimer(ms, fn);
  }

  timerTimeMs(): number {
    return systemClock.timerTimeMs();
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Moves the clock so `now()` is at `time` (never backwards). */
  set(time: Date): void {
    this.offsetMs += Math.max(0, time.getTime() - this.now().getTime());
  }
}
