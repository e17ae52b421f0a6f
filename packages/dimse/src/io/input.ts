/**
 * Record input: NDJSON (fast line splitter with line numbers), CSV/TSV
 * (csv-parse, header row), spreadsheets (`.xlsx`, see xlsx.ts) and JSON
 * arrays, with `-` meaning stdin.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { FlatRecord } from "../records/flat.js";
import { inShard, type Shard } from "../records/shard.js";
import { maxLineBytes, splitLines } from "./lines.js";
import { type NormalizeOptions, normalizer } from "./normalize.js";
import { isZip, readXlsx } from "./xlsx.js";

export type InputFormat = "auto" | "ndjson" | "csv" | "tsv" | "json" | "xlsx";

export class InputError extends Error {
  constructor(
    readonly source: string,
    readonly line: number | undefined,
    message: string,
  ) {
    super(line !== undefined ? `${source}:${line}: ${message}` : `${source}: ${message}`);
    this.name = "InputError";
  }
}

export interface InputRecord {
  record: FlatRecord;
  /** 1-based line (NDJSON, CSV) or element number (JSON array). */
  line: number;
  source: string;
}

export interface ReadOptions {
  /** Name used in error messages (`stdin` or the path). */
  name: string;
  format?: InputFormat;
  /** Called with the CSV/TSV header before the first row; may throw to reject it. */
  onHeader?: (columns: string[]) => void;
  /**
   * A malformed row or line (CSV/TSV rows with too few or too many fields,
   * invalid NDJSON lines) is reported here and skipped; without it, it
   * ends the input with an InputError.
   */
  onInvalid?: (err: InputError) => void;
  /** The sheet of a workbook (default: the first). */
  sheet?: string;
}

/** How query tables are read: `--sheet`, `--normalize`. */
export interface TableOptions {
  sheet?: string;
  /** Rewrite values (`--normalize`); undefined: values are used as written. */
  normalize?: NormalizeOptions;
}

/** A missing file, a directory or an unreadable file is an `InputError` (exit 2). */
async function checkInputFile(path: string): Promise<void> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(
      path,
      undefined,
      e.code === "ENOENT" ? "no such file" : `cannot read: ${e.message}`,
    );
  });
  if (st.isDirectory())
    throw new InputError(path, undefined, "is a directory, expected a file of records");
}

/**
 * Open a file of records (`-` is stdin) and wait until it is open; a
 * missing file, a directory or an unreadable file is an `InputError` (exit 2).
 */
export async function openInputReady(path: string, stdin: Readable): Promise<Readable> {
  if (path === "-") return stdin;
  await checkInputFile(path);
  const stream = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (e) =>
      reject(new InputError(path, undefined, `cannot read: ${(e as Error).message}`)),
    );
  });
  return stream;
}

/** Size of the buffer `readFileChunks` reads into. */
const FILE_CHUNK_BYTES = 1 << 20;

/**
 * The bytes of a file in chunks read into two reused buffers in turn (the
 * next chunk is read while the caller works on this one): a chunk is
 * valid until the next is asked for (copy what must outlive it). Reading
 * a large file costs a tenth of a read stream's fresh 64 KiB buffers,
 * whose page faults and collection dominate a fast consumer. Errors as
 * for `openInputReady`, raised on the first `next()`.
 */
export async function* readFileChunks(path: string): AsyncGenerator<Buffer> {
  await checkInputFile(path);
  const fh = await open(path, "r").catch((e: Error) => {
    throw new InputError(path, undefined, `cannot read: ${e.message}`);
  });
  const read = (buf: Buffer) => {
    const p = fh.read(buf, 0, buf.length, null).then(
      (r) => buf.subarray(0, r.bytesRead),
      (e: Error) => {
        throw new InputError(path, undefined, `cannot read: ${e.message}`);
      },
    );
    // Awaited later: a failure before then is not an unhandled rejection.
    p.catch(() => undefined);
    return p;
  };
  const bufs = [Buffer.allocUnsafeSlow(FILE_CHUNK_BYTES), Buffer.allocUnsafeSlow(FILE_CHUNK_BYTES)];
  let next = read(bufs[0]!);
  try {
    for (let k = 1; ; k ^= 1) {
      const chunk = await next;
      if (chunk.length === 0) return;
      next = read(bufs[k]!);
      yield chunk;
    }
  } finally {
    // A read still under way finishes before the file is closed.
    await next.catch(() => undefined);
    await fh.close();
  }
}

export function sourceName(path: string): string {
  return path === "-" ? "stdin" : path;
}

/**
 * The `status` of a batch tool's report on an input row that found nothing
 * (findscu-ts, movescu-ts): such a record names no data, and read as a
 * query it would ask for everything its keys do not narrow.
 */
export const ROW_REPORT_STATUSES: readonly string[] = ["no-match", "failed"];

/** Whether a record is such a report (`ROW_REPORT_STATUSES`). */
export function isRowReport(record: FlatRecord): boolean {
  return ROW_REPORT_STATUSES.includes(record.status as string);
}

export interface BatchInputOptions {
  /** The CSV/TSV header, before the first row; throw an InputError to reject a column. */
  onHeader?: (columns: string[], name: string) => void;
  /** Skip invalid records (each reported to `onInvalid`) instead of stopping at the first. */
  keepGoing: boolean;
  onInvalid?: (err: InputError) => void;
  /** Only the records of this shard (`--shard K/N`), chosen before they are checked. */
  shard?: Shard;
  table?: TableOptions;
}

/**
 * One item per record of a batch input (`-` = stdin), made by `make`. A
 * record `make` rejects becomes an InputError naming its line: it stops
 * the run, or with `keepGoing` goes to `onInvalid` and is skipped. A
 * record reporting a row that found nothing (`status` no-match or failed)
 * is skipped.
 */
export async function* batchInput<T>(
  path: string,
  stdin: Readable,
  o: BatchInputOptions,
  make: (record: FlatRecord, line: number, name: string) => T,
): AsyncGenerator<T> {
  const name = sourceName(path);
  const onHeader = o.onHeader;
  const records = readRecords(await openInputReady(path, stdin), {
    name,
    onHeader: onHeader && ((columns) => onHeader(columns, name)),
    onInvalid: o.keepGoing ? (o.onInvalid ?? (() => undefined)) : undefined,
    sheet: o.table?.sheet,
  });
  const normalize = o.table?.normalize && normalizer(o.table.normalize);
  for await (const { record, line } of records) {
    let item: T;
    try {
      if (isRowReport(record)) continue;
      normalize?.(record, name, line);
      if (!inShard(record, o.shard)) continue;
      item = make(record, line, name);
    } catch (e) {
      const err = e instanceof InputError ? e : new InputError(name, line, (e as Error).message);
      if (!o.keepGoing) throw err;
      o.onInvalid?.(err);
      continue;
    }
    yield item;
  }
}

/**
 * Read the first item of a generator now, so that bad or missing input
 * fails before any network work and a slow input does not hold an
 * association idle; the result yields that item, then the rest.
 */
export async function readAhead<T>(gen: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await gen.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* gen;
  })();
}

function formatFromName(name: string): InputFormat {
  const n = name.toLowerCase();
  if (n.endsWith(".csv")) return "csv";
  if (n.endsWith(".tsv") || n.endsWith(".tab")) return "tsv";
  if (n.endsWith(".ndjson") || n.endsWith(".jsonl")) return "ndjson";
  if (n.endsWith(".xlsx")) return "xlsx";
  return "auto";
}

/** Read records from a stream in any supported format. */
export async function* readRecords(stream: Readable, o: ReadOptions): AsyncGenerator<InputRecord> {
  let format = o.format && o.format !== "auto" ? o.format : formatFromName(o.name);
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  // Peek at the first bytes to detect the format.
  const head: Buffer[] = [];
  let firstChar = "";
  let firstLine = "";
  while (format === "auto" || !firstChar) {
    const r = await it.next();
    if (r.done) break;
    const b = typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    head.push(b);
    const text = Buffer.concat(head)
      .toString("utf8")
      .replace(/^\uFEFF/, "");
    const trimmed = text.trimStart();
    if (trimmed.length === 0) continue;
    firstChar = trimmed[0]!;
    const nl = text.indexOf("\n");
    if (nl < 0 && format === "auto" && firstChar !== "{" && firstChar !== "[") continue;
    firstLine = nl < 0 ? text : text.slice(0, nl);
    break;
  }
  if (format === "auto" && isZip(Buffer.concat(head))) format = "xlsx";
  if (format === "auto") {
    if (firstChar === "{") format = "ndjson";
    else if (firstChar === "[") format = "json";
    else if (firstLine.includes("\t") && !firstLine.includes(",")) format = "tsv";
    else format = "csv";
  }
  async function* rest(): AsyncGenerator<Buffer> {
    for (const b of head) yield b;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    }
  }
  if (o.sheet !== undefined && format !== "xlsx")
    throw new InputError(o.name, undefined, "--sheet is for .xlsx workbooks; this is not one");
  if (format === "xlsx") {
    const parts: Buffer[] = [];
    for await (const c of rest()) parts.push(c);
    yield* readXlsx(Buffer.concat(parts), o);
  } else if (format === "ndjson") yield* readNdjson(rest(), o.name, o.onInvalid);
  else if (format === "json") yield* readJsonArray(rest(), o.name);
  else yield* readCsv(rest(), o, format === "tsv" ? "\t" : ",");
}

/** One NDJSON line as a record (undefined for a blank line); errors name the line. */
export function parseNdjsonLine(raw: string, name: string, line: number): FlatRecord | undefined {
  let text = raw;
  if (text.length === 0) return undefined;
  if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    // Blank lines are skipped; checked only here, off the hot path.
    if (text.trim() === "") return undefined;
    throw new InputError(name, line, `invalid JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new InputError(
      name,
      line,
      `expected a JSON object per line, got ${Array.isArray(v) ? "an array (use jq -c '.[]' to split a JSON array)" : v === null ? "null" : typeof v}`,
    );
  }
  return v as FlatRecord;
}

/**
 * NDJSON in batches: the complete lines of each chunk are parsed together
 * (fast for millions of records), through the shared line splitter (linear
 * in the line length, bounded by the maximum line length). An invalid line
 * stops the input, or goes to `onInvalid` and is skipped.
 */
export async function* ndjsonBatches(
  chunks: AsyncIterable<Buffer>,
  name: string,
  onInvalid?: (err: InputError) => void,
): AsyncGenerator<InputRecord[]> {
  for await (const { lines, first } of splitLines(chunks, { name })) {
    const batch: InputRecord[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = first + i;
      let record: FlatRecord | undefined;
      try {
        record = parseNdjsonLine(lines[i]!, name, line);
      } catch (e) {
        if (!onInvalid || !(e instanceof InputError)) throw e;
        onInvalid(e);
        continue;
      }
      if (record) batch.push({ record, line, source: name });
    }
    if (batch.length) yield batch;
  }
}

async function* readNdjson(
  chunks: AsyncIterable<Buffer>,
  name: string,
  onInvalid?: (err: InputError) => void,
): AsyncGenerator<InputRecord> {
  for await (const batch of ndjsonBatches(chunks, name, onInvalid)) yield* batch;
}

async function* readJsonArray(
  chunks: AsyncIterable<Buffer>,
  name: string,
): AsyncGenerator<InputRecord> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  const text = Buffer.concat(parts)
    .toString("utf8")
    .replace(/^\uFEFF/, "");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InputError(
      name,
      lineOfJsonError(text, err as Error),
      `invalid JSON: ${(err as Error).message}`,
    );
  }
  if (!Array.isArray(v)) throw new InputError(name, 1, "expected a JSON array of objects");
  let i = 0;
  for (const item of v) {
    i++;
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw new InputError(name, undefined, `element ${i} of the JSON array is not an object`);
    yield { record: item as FlatRecord, line: i, source: name };
  }
}

function lineOfJsonError(text: string, err: Error): number | undefined {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return undefined;
  const pos = Number(m[1]);
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * CSV/TSV rows as records keyed by the header. A row with fewer fields
 * than the header (or more, unless the extra ones are empty) is an error
 * naming the line and the first column without a value: rows are never
 * padded, since a missing UID or date would silently widen a query.
 */
async function* readCsv(
  chunks: AsyncIterable<Buffer>,
  o: ReadOptions,
  delimiter: string,
): AsyncGenerator<InputRecord> {
  let header: string[] | undefined;
  const { parse: csvParse } = await import("csv-parse");
  const parser = csvParse({
    delimiter,
    bom: true,
    info: true,
    skip_empty_lines: true,
    relax_column_count: true,
    max_record_size: maxLineBytes(),
    relax_quotes: delimiter === "\t",
    quote: delimiter === "\t" ? false : '"',
  });
  const feed = (async () => {
    try {
      for await (const c of chunks) {
        if (parser.destroyed) return;
        // Wait for room, or for the reader to stop (a destroyed parser emits no "drain").
        if (!parser.write(c))
          await new Promise<void>((r) => {
            // Each wait removes both listeners: kept, the "close" ones pile up over a long table.
            const done = () => {
              parser.off("drain", done);
              parser.off("close", done);
              r();
            };
            parser.once("drain", done);
            parser.once("close", done);
          });
      }
      if (!parser.destroyed) parser.end();
    } catch (e) {
      parser.destroy(e as Error);
    }
  })();
  const invalid = (err: InputError): void => {
    if (!o.onInvalid) throw err;
    o.onInvalid(err);
  };
  try {
    for await (const row of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
    }>) {
      const cells = row.record;
      const line = row.info.lines;
      if (!header) {
        header = cells.map((c) => c.trim());
        o.onHeader?.(header);
        continue;
      }
      if (cells.every((c) => c.trim() === "")) continue;
      if (cells.length > header.length && cells.slice(header.length).some((c) => c.trim() !== "")) {
        invalid(
          new InputError(
            o.name,
            line,
            `${cells.length} fields, but the header has ${header.length}`,
          ),
        );
        continue;
      }
      if (cells.length < header.length) {
        const missing = header.slice(cells.length);
        invalid(
          new InputError(
            o.name,
            line,
            `no value for ${missing.length > 1 ? "columns" : "column"} ${missing.join(", ")} (${cells.length} of the header's ${header.length} fields; an empty value still needs its delimiter)`,
          ),
        );
        continue;
      }
      const record: FlatRecord = {};
      header.forEach((h, i) => {
        record[h] = cells[i]!;
      });
      yield { record, line, source: o.name };
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    const err = e as Error & { lines?: number };
    throw new InputError(o.name, err.lines, err.message.replace(/^Invalid Record Length: /, ""));
  } finally {
    if (!parser.destroyed) parser.destroy();
    await feed.catch(() => undefined);
  }
}
