/**
 * `--unmatched FILE`: the input rows of a batch that matched nothing or
 * failed, written back in the input's columns (header and column order as
 * read) so the file can be fixed and given to the same command again.
 * CSV, or NDJSON when FILE ends in `.ndjson`/`.jsonl`; written to a
 * temporary file and renamed into place only when the batch ran to its
 * end (an interrupted run leaves an earlier file untouched). Each row once,
 * in the order found; memory holds only the line numbers written.
 */
import type { FlatRecord } from "../records/flat.js";
import { type OutputFile, openOutputFile } from "./output-file.js";
import { RecordWriter } from "./output.js";

export class UnmatchedRows {
  private file?: OutputFile;
  private writer?: RecordWriter;
  private columns?: string[];
  private readonly lines = new Set<number>();
  private queue: Promise<void> = Promise.resolve();
  private failure?: Error;

  constructor(readonly path: string) {}

  /** Rows written so far. */
  get count(): number {
    return this.lines.size;
  }

  /** Open the temporary file now, so an unwritable location fails before any work. */
  async open(): Promise<void> {
    this.file = await openOutputFile(this.path);
    const ndjson = /\.(nd)?jsonl?$/i.test(this.path) || /\.ndjson$/i.test(this.path);
    this.writer = new RecordWriter(this.file.stream, { format: ndjson ? "ndjson" : "csv" });
  }

  /** The input's columns (its header), before the first row. */
  setColumns(columns: string[]): void {
    this.columns ??= columns;
    this.writer?.setColumns(columns);
  }

  /** Add the row read at `line` (again: ignored). */
  add(line: number, cells: FlatRecord): void {
    if (this.lines.has(line) || !this.writer) return;
    this.lines.add(line);
    const w = this.writer;
    this.queue = this.queue.then(() => w.write(cells)).catch((e) => void (this.failure ??= e));
  }

  /** Write the file into place (the header alone when no row was added). */
  async commit(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure;
    if (this.columns) await this.writer!.writeHeader();
    await this.writer!.end();
    await this.file!.commit();
  }

  /** Leave no temporary file (and any earlier FILE as it was). */
  async abort(): Promise<void> {
    await this.queue;
    await this.file?.abort();
  }
}
