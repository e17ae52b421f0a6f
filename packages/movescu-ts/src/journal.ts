/**
 * The resume journal: one NDJSON line per completed request, appended and
 * fsynced as each request completes, so a rerun after Ctrl-C or kill -9
 * skips what is done and redoes the rest.
 */
import { closeSync, fdatasyncSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from "node:fs";
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
    const good: string[] = [];
    let torn = false;
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as { key: string; result: FlatRecord };
        if (typeof entry.key !== "string") throw new Error("no key");
        this.done.set(entry.key, entry.result);
        good.push(line);
      } catch {
        // A line cut short when the process was killed while writing it.
        torn = true;
      }
    }
    if (torn) {
      // Keep the journal readable: rewrite it without the torn line (atomically).
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, good.map((l) => l + "\n").join(""));
      renameSync(tmp, this.path);
    }
    return this.done.size;
  }

  completed(key: string): FlatRecord | undefined {
    return this.done.get(key);
  }

  record(key: string, result: FlatRecord): void {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, "a+");
      // A line torn by a crash has no newline: end it, so it does not swallow this entry.
      const size = fstatSync(this.fd).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(this.fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) writeSync(this.fd, "\n");
      }
    }
    writeSync(this.fd, JSON.stringify({ key, result }) + "\n");
    fdatasyncSync(this.fd);
    this.done.set(key, result);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
