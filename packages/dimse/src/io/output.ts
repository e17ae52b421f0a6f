/**
 * Record output: NDJSON (one write per record), CSV or TSV, with
 * back-pressure, quiet handling of a closed pipe (EPIPE) and clear write
 * errors. CSV for spreadsheets (`excel`): see `excelCell`.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { createRequire } from "node:module";
import { recordKeyOrder, serializeRecord, type FlatRecord } from "../records/flat.js";

export type OutputFormat = "ndjson" | "csv" | "tsv";

const require = createRequire(import.meta.url);
interface StringifyOptions {
  delimiter: string;
  record_delimiter?: string;
}
let stringifyFn: ((rows: unknown[][], o: StringifyOptions) => string) | undefined;
/** csv-stringify, loaded only when CSV is written. */
function stringify(rows: unknown[][], o: StringifyOptions): string {
  stringifyFn ??= (require("csv-stringify/sync") as { stringify: typeof stringifyFn }).stringify;
  return stringifyFn!(rows, o);
}

export class WriteError extends Error {
  constructor(override readonly cause: Error) {
    super(`write error: ${cause.message}`);
    this.name = "WriteError";
  }
}

/**
 * Guards a writable: records EPIPE (reader went away) and other errors
 * instead of crashing, and offers awaitable writes.
 */
export class Sink {
  /** The reader closed the pipe: stop producing, exit 0. */
  broken = false;
  error?: WriteError;
  private waiters = new Set<() => void>();

  constructor(readonly stream: Writable) {
    stream.on("error", (err: NodeJS.ErrnoException) => this.fail(err));
    // A stream destroyed without an error emits no "error" (nor "drain"): wake waiters.
    stream.on("close", () => this.wake());
  }

  private fail(err: NodeJS.ErrnoException): void {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") this.broken = true;
    else this.error ??= new WriteError(err);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  get ok(): boolean {
    return !this.broken && !this.error;
  }

  private pending: Array<string | Buffer> = [];
  private pendingSize = 0;
  private scheduled = false;

  /**
   * Write text or bytes. Small writes are coalesced (one system call per
   * 64 KiB or per event-loop turn); waits for drain when the stream is full.
   */
  async write(data: string | Buffer): Promise<void> {
    if (!this.ok) return;
    if (this.stream.destroyed) {
      this.broken = true;
      return;
    }
    this.pending.push(data);
    this.pendingSize += data.length;
    if (this.pendingSize >= 65536) return this.drainPending();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.drainPending();
      });
    }
  }

  private async drainPending(): Promise<void> {
    if (this.pending.length === 0 || !this.ok) return;
    const parts = this.pending;
    this.pending = [];
    this.pendingSize = 0;
    const data = parts.every((p) => typeof p === "string")
      ? parts.join("")
      : Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
    if (this.stream.destroyed) {
      this.broken = true;
      return;
    }
    // The callback sees errors that a destroyed stream no longer emits as events.
    if (this.stream.write(data, (err) => err && this.fail(err))) return;
    if (!this.ok) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.waiters.delete(done);
        resolve();
      };
      this.stream.once("drain", done);
      this.waiters.add(done);
    });
  }

  /** Flush: resolves once everything written so far has been handed to the OS. */
  async flush(): Promise<void> {
    await this.drainPending();
    if (!this.ok) return;
    if (this.stream.writableNeedDrain)
      await Promise.race([
        once(this.stream, "drain"),
        once(this.stream, "error"),
        once(this.stream, "close"),
      ]).catch(() => undefined);
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object"))
      return v.map((x) => (x === null ? "" : String(x))).join("\\");
    return JSON.stringify(v);
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export interface RecordWriterOptions {
  format?: OutputFormat;
  /** Fixed column order for CSV/TSV; otherwise taken from the first record. */
  columns?: string[];
  /** Write a header row (CSV/TSV; default true). */
  header?: boolean;
  /** Called once for each key dropped because it is not a column. */
  onDroppedKey?: (key: string) => void;
  /**
   * CSV for spreadsheets: UTF-8 byte order mark, CRLF line ends, and text
   * that a spreadsheet would read as a number, date or formula kept as
   * text (see `excelCell`). Only with `format: "csv"`.
   */
  excel?: boolean;
}

export class RecordWriter {
  readonly sink: Sink;
  readonly format: OutputFormat;
  private columns?: string[];
  private columnSet?: Set<string>;
  private headerDone = false;
  private dropped = new Set<string>();
  count = 0;

  constructor(
    stream: Writable | Sink,
    private readonly o: RecordWriterOptions = {},
  ) {
    this.sink = stream instanceof Sink ? stream : new Sink(stream);
    this.format = o.format ?? "ndjson";
    if (o.excel && this.format !== "csv") throw new Error("excel output is CSV");
    if (o.columns) this.setColumns(o.columns);
  }

  get ok(): boolean {
    return this.sink.ok;
  }

  /** Fix the CSV/TSV columns before the first record (later calls are ignored). */
  setColumns(columns: string[]): void {
    if (this.columns) return;
    this.columns = columns;
    this.columnSet = new Set(columns);
  }

  async write(rec: FlatRecord): Promise<void> {
    this.count++;
    if (this.format === "ndjson") return this.sink.write(`${serializeRecord(rec)}\n`);
    if (!this.columns) this.setColumns(recordKeyOrder(rec));
    const columns = this.columns!;
    let text = this.header();
    for (const k of Object.keys(rec)) {
      if (!this.columnSet!.has(k) && !this.dropped.has(k)) {
        this.dropped.add(k);
        this.o.onDroppedKey?.(k);
      }
    }
    text += this.row(columns.map((c) => (this.o.excel ? excelCell(rec[c]) : cell(rec[c]))));
    return this.sink.write(text);
  }

  /** Write `count` already-serialised NDJSON records (see `datasetToFlatJson`), each ending in a newline. */
  writeJsonLines(lines: string, count: number): Promise<void> {
    this.count += count;
    return this.sink.write(lines);
  }

  /** Write only the header (e.g. for an empty result). */
  async writeHeader(columns?: string[]): Promise<void> {
    if (this.format === "ndjson" || this.headerDone) return;
    if (columns) this.setColumns(columns);
    if (!this.columns) return;
    const text = this.header();
    if (text) await this.sink.write(text);
  }

  /** Everything written so far handed to the OS (records are otherwise batched per event-loop turn). */
  async flush(): Promise<void> {
    await this.sink.flush();
  }

  async end(): Promise<void> {
    await this.sink.flush();
    if (this.sink.error) throw this.sink.error;
  }

  /** The header row, the first time it is asked for (empty with `header: false`). */
  private header(): string {
    if (this.headerDone) return "";
    this.headerDone = true;
    const bom = this.o.excel ? "\uFEFF" : "";
    return (
      bom +
      (this.o.header === false
        ? ""
        : this.row(this.o.excel ? this.columns!.map((c) => excelCell(c)) : this.columns!))
    );
  }

  private row(cells: string[]): string {
    if (this.format === "tsv") return `${cells.map(tsvCell).join("\t")}\n`;
    return stringify([cells], { delimiter: ",", record_delimiter: this.o.excel ? "\r\n" : "\n" });
  }
}

/**
 * A cell for a spreadsheet. Excel and LibreOffice Calc guess a type for each
 * unquoted-or-quoted CSV field: `00123` becomes 123, `083000` 83000, a
 * 20-digit string 1.2E+19, `Mar-5` a date, and `=…`, `+…`, `-…`, `@…` a
 * formula (CSV injection). Quoting does not stop the guess and a leading
 * apostrophe or tab stays in the cell, but both read `="…"` as a formula
 * whose value is the exact text, so a text value that could be taken for
 * anything else is written that way. Excel allows 255 characters per text
 * constant, so longer text is joined from pieces (`="…"&"…"`); text too long
 * for a formula (8192 characters) gets a leading apostrophe, shown but inert.
 * Numbers stay numbers.
 */
export function excelCell(v: unknown): string {
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  const s = cell(v);
  if (!RISKY.test(s)) return s;
  const pieces: string[] = [];
  for (let i = 0; i < s.length; ) {
    let end = Math.min(s.length, i + 255);
    // Do not split a surrogate pair.
    if (end < s.length && /[\uD800-\uDBFF]/.test(s[end - 1]!)) end--;
    pieces.push(`"${s.slice(i, end).replace(/"/g, '""')}"`);
    i = end;
  }
  const formula = `=${pieces.join("&")}`;
  return formula.length <= 8192 ? formula : `'${s}`;
}

/**
 * Text a spreadsheet could read as something else: a formula or an error
 * (`= + - @ #`, tab, CR, LF first), a number, time, date, fraction, percent
 * or amount (a digit, dot, comma, bracket or currency sign first, after any
 * spaces), TRUE/FALSE, or a month name followed by a number (`Mar-5`, `DEC1`).
 */
const RISKY =
  /^(?:[=+\-@#\t\r\n]|\s*[(]?\s*[$\u20ac\u00a3\u00a5]?\s*[\d.,]|\s+|(?:true|false)$|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[\s\-/.]*\d)/i;

/** TSV has no quoting: tabs and newlines inside values become spaces. */
function tsvCell(s: string): string {
  return s.replace(/[\t\r\n]+/g, " ");
}
