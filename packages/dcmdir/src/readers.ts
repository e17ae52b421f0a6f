/**
 * Reader threads for `dcmdir index`: batches of files go to the least busy
 * of N worker threads, each reading synchronously, so N files are read at
 * once while the main thread walks folders and writes the database. The
 * threads start with the first batch to read (a run with nothing new
 * starts none). With 0 threads (or when running from TypeScript sources,
 * where no compiled worker exists) files are read in the main thread.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { readRow, type FileToRead, type ReadOutcome } from "./read-header.js";

interface Pending {
  resolve: (r: ReadOutcome[]) => void;
  reject: (e: Error) => void;
  worker: number;
}

export class Readers {
  private workers: Worker[] = [];
  private inFlight: number[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 0;

  private wanted: number;
  private readonly script = fileURLToPath(new URL("./read-worker.js", import.meta.url));

  constructor(threads: number) {
    this.wanted = threads >= 1 && existsSync(this.script) ? threads : 0;
  }

  private start(): void {
    for (let i = 0; i < this.wanted; i++) {
      // A small young generation: the readers allocate short-lived buffers only, and V8 would otherwise grow it to 32 MB each.
      const w = new Worker(this.script, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.on("message", (m: { id: number; results: ReadOutcome[] }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.inFlight[i]!--;
        p.resolve(m.results);
      });
      w.on("error", (e) => this.failWorker(i, e));
      w.on("exit", (code) =>
        this.failWorker(i, new Error(`reader thread exited with code ${code}`)),
      );
      this.workers.push(w);
      this.inFlight.push(0);
    }
  }

  /** Threads reading (0: reads happen in the calling thread). */
  get threads(): number {
    return this.wanted;
  }

  read(files: FileToRead[]): Promise<ReadOutcome[]> {
    if (files.length === 0) return Promise.resolve([]);
    if (this.wanted === 0) return Promise.resolve(files.map(readRow));
    if (this.workers.length === 0) this.start();
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.inFlight[i]! < this.inFlight[w]!) w = i;
    const id = this.nextId++;
    this.inFlight[w]!++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w });
      this.workers[w]!.postMessage({ id, files });
    });
  }

  private failWorker(i: number, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== i) continue;
      this.pending.delete(id);
      p.reject(e);
    }
  }

  async close(): Promise<void> {
    this.wanted = 0;
    const ws = this.workers;
    this.workers = [];
    for (const w of ws) w.removeAllListeners("exit");
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
