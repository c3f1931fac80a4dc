/**
 * When the chaos run breaks what: a pure function of a seed, so a failing run is repeated exactly
 * by setting SHADOWKEEP_CHAOS_SEED to the seed it logged.
 */

/** A small, fast, seedable generator (mulberry32): uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FaultKind = 'kill-agent' | 'kill-leader' | 'kill-controller' | 'restart-apiserver';

export interface Fault {
  /** Milliseconds after the start of the chaos window. */
  atMs: number;
  kind: FaultKind;
  /** For kill-agent: which agent (index into the hosts); for kill-controller: which replica. */
  target: number;
  /** How long a killed process stays down before it is started again. */
  downMs: number;
}

export interface FaultPlanOptions {
  seed: number;
  /** Faults happen inside [0, windowMs). */
  windowMs: number;
  /** Faults of each kill kind beyond the one every run has. */
  extraKills: number;
  agents: number;
  controllers: number;
  /** Bounds of a killed process's down time. */
  minDownMs: number;
  maxDownMs: number;
}

/**
 * Every run has at least one kill of an agent, of the leading controller replica and of a
 * replica picked at random, and exactly one API server restart; `extraKills` more of each kill
 * kind follow at random moments. Sorted by time; no two faults closer than `minDownMs`, so each
 * one's effect can be told apart in the logs.
 */
export function planFaults(options: FaultPlanOptions): Fault[] {
  const random = seededRandom(options.seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const down = (): number =>
    options.minDownMs + Math.round(random() * (options.maxDownMs - options.minDownMs));
  const kinds: FaultKind[] = ['kill-agent', 'kill-leader', 'kill-controller', 'restart-apiserver'];
  for (let i = 0; i < options.extraKills; i++) {
    kinds.push('kill-agent', 'kill-leader', 'kill-controller');
  }
  const slots = kinds.length;
  const slotMs = options.windowMs / slots;
  // One fault per equal slice of the window, at a random moment in its slice, in shuffled order.
  const order = kinds.map((kind) => ({ kind, key: random() })).sort((a, b) => a.key - b.key);
  return order.map(({ kind }, i) => ({
    atMs: Math.round(i * slotMs + random() * Math.max(0, slotMs - options.minDownMs)),
    kind,
    target:
      kind === 'kill-agent'
        ? pick(options.agents)
        : kind === 'kill-controller'
          ? pick(options.controllers)
          : 0,
    downMs: kind === 'restart-apiserver' ? 0 : down(),
  }));
}
