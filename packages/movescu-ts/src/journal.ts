/**
 * The resume journal: one NDJSON line per completed request, appended and
 * fsynced as each request completes, so a rerun after Ctrl-C or kill -9
 * skips what is done and redoes the rest.
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
import type { FlatRecord } from "@dicom-pipes/dimse/records";

export class Journal {
  private fd?: number;
  private readonly done = new Map<string, FlatRecord>();

  constructor(readonly path: string) {}

  /** Load earlier entries (a torn last line from a crash is ignored). */
  load(): number {
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw e;
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as { key: string; result: FlatRecord };
        if (typeof entry.key === "string") this.done.set(entry.key, entry.result);
      } catch {
        // incomplete line written when the process was killed
      }
    }
    return this.done.size;
  }

  completed(key: string): FlatRecord | undefined {
    return this.done.get(key);
  }

  record(key: string, result: FlatRecord): void {
    this.fd ??= openSync(this.path, "a");
    writeSync(this.fd, JSON.stringify({ key, result }) + "\n");
    fdatasyncSync(this.fd);
    this.done.set(key, result);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
