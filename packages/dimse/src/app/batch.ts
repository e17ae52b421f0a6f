/**
 * One `-j N` run over an async source of requests, for every batch tool:
 * at most N requests at once (`io/pool.ts` `mapPool`, so the source is read
 * only as requests finish: back-pressure), paced (`Scheduler`), skipping
 * what the resume journal lists and journalling what completes, and
 * stopping on a signal or when the tool halts (an association failure, a
 * failed store without `-nh`, the reader gone).
 */
import { mapPool } from "../io/pool.js";
import type { FlatRecord } from "../records/flat.js";
import type { Journal } from "./journal.js";
import type { Scheduler } from "./pacing.js";

export interface BatchOptions<T> {
  source: AsyncIterable<T> | Iterable<T>;
  jobs: number;
  signal?: AbortSignal;
  /** True once the run must take no further request. */
  halted?: () => boolean;
  scheduler?: Scheduler;
  journal?: Journal;
  /** The journal key of a request (undefined: not journalled). */
  journalKey?: (item: T) => string | undefined;
  /** A request the journal lists as complete, with the result it recorded. */
  skip?: (item: T, previous: FlatRecord) => Promise<void>;
  /** The request's work; a record returned is journalled as its completion. */
  work: (item: T) => Promise<FlatRecord | undefined>;
  /**
   * Hands the request's output to the OS before its journal entry is
   * written (the record writer's `flush`), so a run killed after the
   * entry has lost none of that request's output.
   */
  beforeJournal?: () => Promise<void>;
}

export interface BatchCounts {
  /** Requests worked on. */
  done: number;
  /** Requests skipped as complete in the journal. */
  skipped: number;
}

export async function runBatch<T>(o: BatchOptions<T>): Promise<BatchCounts> {
  const counts: BatchCounts = { done: 0, skipped: 0 };
  const stop = () => Boolean(o.signal?.aborted || o.halted?.());
  const one = async (item: T): Promise<void> => {
    if (stop()) return;
    const key = o.journal ? o.journalKey?.(item) : undefined;
    const previous = key === undefined ? undefined : o.journal!.completed(key);
    if (previous) {
      counts.skipped++;
      await o.skip?.(item, previous);
      return;
    }
    await o.scheduler?.beforeRequest();
    if (stop()) return;
    counts.done++;
    const record = await o.work(item);
    if (record && key !== undefined) {
      await o.beforeJournal?.();
      o.journal!.record(key, record);
    }
    if (!stop()) await o.scheduler?.afterRequest();
  };
  for await (const _ of mapPool(o.source, o.jobs, one, { order: "completion" })) if (stop()) break;
  return counts;
}
