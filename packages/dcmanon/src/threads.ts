/**
 * Worker threads for `-j N`: each reads, de-identifies and writes its files synchronously, so
 * N files are processed at once on N cores while the main thread walks the inputs, renames
 * the outputs into place and writes the results. A thread starts when every running one is
 * busy (one file starts one thread); a file goes to the least busy thread.
 */
import { Worker } from "node:worker_threads";
import type { FileDone, FileTask, JobSettings } from "./job.js";

/** What `workerData` holds for a thread serving jobs. */
export const JOBS_KEY = "dcmanonJobs";

interface Pending {
  resolve: (d: FileDone) => void;
  reject: (e: Error) => void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class JobThreads {
  private threads: Thread[] = [];
  private closed = false;

  constructor(
    private readonly entry: URL,
    private readonly settings: JobSettings,
    private readonly max: number,
  ) {}

  private start(): Thread {
    const worker = new Worker(this.entry, { workerData: { [JOBS_KEY]: this.settings } });
    const t: Thread = { worker, pending: new Map() };
    const fail = (e: Error) => {
      this.threads = this.threads.filter((x) => x !== t);
      for (const p of t.pending.values()) p.reject(e);
      t.pending.clear();
    };
    worker.on("message", (d: FileDone) => {
      const p = t.pending.get(d.id);
      t.pending.delete(d.id);
      p?.resolve(d);
    });
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (!this.closed) fail(new Error(`worker thread exited with code ${code}`));
    });
    this.threads.push(t);
    return t;
  }

  run(task: FileTask): Promise<FileDone> {
    let t = this.threads[0];
    for (const x of this.threads) if (x.pending.size < t!.pending.size) t = x;
    if (!t || (t.pending.size > 0 && this.threads.length < this.max)) t = this.start();
    const thread = t;
    return new Promise((resolve, reject) => {
      thread.pending.set(task.id, { resolve, reject });
      thread.worker.postMessage(task);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const ts = this.threads;
    this.threads = [];
    await Promise.all(ts.map((t) => t.worker.terminate()));
  }
}
