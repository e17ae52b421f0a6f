/** A small seeded PRNG (mulberry32) and helpers; every stream is derived from a name. */
import { createHash } from "node:crypto";

export type Rng = () => number;

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash of a name (first 4 bytes of its SHA-256). */
export function hash32(name: string): number {
  return createHash("sha256").update(name).digest().readUInt32LE(0);
}

/** An independent random stream for a name (so one patient's draws never shift another's). */
export function streamFor(name: string): Rng {
  return mulberry32(hash32(name));
}

/** Integer in [lo, hi] (inclusive). */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)]!;
}

/** Index drawn with the given (non-negative, not all zero) weights. */
export function weightedIndex(rng: Rng, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let r = rng() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

export function weightedPick<T extends { weight: number }>(rng: Rng, list: readonly T[]): T {
  return list[
    weightedIndex(
      rng,
      list.map((e) => e.weight),
    )
  ]!;
}
