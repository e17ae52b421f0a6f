/**
 * `--shard K/N`: split one batch between N runs (machines, job-array tasks)
 * without coordination. A stable hash of each record picks its shard, so
 * the N shards are disjoint and together hold every record, whatever the
 * machine, the order or the run.
 */
import { createHash } from "node:crypto";
import type { FlatRecord } from "./flat.js";

export interface Shard {
  /** 1-based: shard `index` of `count`. */
  index: number;
  count: number;
}

/** `K/N` with 1 <= K <= N; throws with a message naming what was expected. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new Error(`invalid shard ${text} (expected K/N with 1 <= K <= N, e.g. 2/3)`);
  return { index, count };
}

/** The UIDs that identify a record when it has any; the identity of the whole record otherwise. */
const UNIQUE = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"] as const;

/** What is hashed: the record's UIDs, or (a filter table's row) every key and value, keys sorted. */
export function shardKey(record: FlatRecord): string {
  const uids = UNIQUE.map((k) => record[k]).filter((v) => v !== undefined && v !== null);
  if (uids.length) return JSON.stringify(uids);
  return JSON.stringify(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]]),
  );
}

/** The shard (1-based) a record belongs to among `count`. */
export function shardOf(record: FlatRecord, count: number): number {
  const h = createHash("sha256").update(shardKey(record)).digest();
  return (h.readUIntBE(0, 6) % count) + 1;
}

export function inShard(record: FlatRecord, shard: Shard | undefined): boolean {
  return !shard || shard.count === 1 || shardOf(record, shard.count) === shard.index;
}
