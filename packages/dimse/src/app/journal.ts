/**
 * The resume journal: one NDJSON line per completed request, appended and
 * fsynced as each request completes, so a rerun after Ctrl-C or kill -9
 * skips what is done and redoes the rest.
 */
import {
  closeSync,
  fdatasyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import type { FlatRecord } from "../records/flat.js";

export class Journal {
  private fd?: number;
  private readonly done = new Map<string, FlatRecord>();

  constructor(readonly path: string) {}

  /** Load earlier entries (a torn last line from a crash is dropped, so appends start on a line of their own). */
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
    if (torn || (text !== "" && !text.endsWith("\n"))) {
      // Keep the journal readable: rewrite it without the torn line, every line ended (atomically).
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, good.map((l) => `${l}\n`).join(""));
      renameSync(tmp, this.path);
    }
    return this.done.size;
  }

  completed(key: string): FlatRecord | undefined {
    return this.done.get(key);
  }

  record(key: string, result: FlatRecord): void {
    this.fd ??= openSync(this.path, "a");
    writeSync(this.fd, `${JSON.stringify({ key, result })}\n`);
    fdatasyncSync(this.fd);
    this.done.set(key, result);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
