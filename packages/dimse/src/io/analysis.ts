/**
 * Input for the analysis tools: records from files or stdin in every form
 * the records module accepts (NDJSON flat or PS3.18, CSV/TSV, JSON arrays,
 * pacsalyzer's element-string JSON), each returned as a flat record.
 * JSON arrays are split as they stream in (memory does not grow with the
 * number of records) and keep real line numbers for error messages.
 */
import { Readable } from "node:stream";
import { RecordError, type FlatRecord } from "../records/flat.js";
import { toAnalysisRecord } from "../records/analysis.js";
import { nearestName } from "../records/columns.js";
import {
  InputError,
  ndjsonBatches,
  parseNdjsonLine,
  readFileChunks,
  readRecords,
  isRowReport,
  sourceName,
  type InputRecord,
} from "./input.js";
import { splitLineSpans } from "./lines.js";
import { FieldPicker } from "./pick.js";
import type { Io } from "./io.js";

/**
 * Records from `paths` (`-` = stdin; none = stdin, which must not be a
 * terminal), normalised to flat records, in batches (a chunk read, or a
 * few hundred records): one await per batch instead of per record, for
 * tools that go through millions of records. Malformed input throws
 * InputError naming the source, the line and what was expected. With
 * `fields`, an NDJSON line in the simple flat shape gives a record of
 * only those keys (`FieldPicker`); the first line of each chunk (whose
 * keys name the input in error messages) and every line in another shape
 * give all of their keys.
 */
export async function* readAnalysisBatches(
  paths: string[],
  io: Pick<Io, "stdin">,
  fields?: string[],
): AsyncGenerator<InputRecord[]> {
  const list = paths.length ? paths : ["-"];
  const picker = fields && new FieldPicker(fields);
  for (const path of list) {
    const name = sourceName(path);
    if (path === "-" && io.stdin.isTTY)
      throw new InputError(
        "stdin",
        undefined,
        "no input: give a file name or pipe records on stdin",
      );
    if (path === "-")
      yield* readOne(io.stdin as AsyncIterable<Buffer | string>, false, name, picker);
    else yield* readOne(readFileChunks(path), true, name, picker);
  }
}

/** `reused`: each chunk is valid only until the next is read (`readFileChunks`). */
async function* readOne(
  source: AsyncIterable<Buffer | string>,
  reused: boolean,
  name: string,
  picker: FieldPicker | undefined,
): AsyncGenerator<InputRecord[]> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let first = -1;
  // Peek at the first non-blank byte.
  while (first < 0) {
    const r = await it.next();
    if (r.done) break;
    const b = typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    head.push(reused ? Buffer.from(b) : b);
    first = firstByte(head.length === 1 ? b : Buffer.concat(head));
  }
  async function* rest(): AsyncGenerator<Buffer> {
    yield* head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    }
  }
  /** The chunks as buffers of their own, for readers that keep them. */
  async function* owned(): AsyncGenerator<Buffer> {
    for await (const b of rest()) yield reused ? Buffer.from(b) : b;
  }
  if (first < 0) return; // empty input
  if (first === 0x5b /* [ */) {
    yield* readJsonArrayStream(owned(), name);
    return;
  }
  if (first === 0x7b /* { */) {
    yield* convertedNdjson(rest(), name, picker);
    return;
  }
  // CSV or TSV (readRecords tells them apart).
  let batch: InputRecord[] = [];
  for await (const r of readRecords(Readable.from(owned()), { name })) {
    batch.push({ record: convert(r.record, name, r.line), line: r.line, source: r.source });
    if (batch.length >= 1024) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Records per batch of picked lines. */
const PICKED_BATCH = 256;

/**
 * NDJSON batches with each record normalised; with a picker, the lines in
 * its simple shape are picked (but the first of each batch, whose keys
 * name the input in error messages).
 */
async function* convertedNdjson(
  chunks: AsyncIterable<Buffer>,
  name: string,
  picker: FieldPicker | undefined,
): AsyncGenerator<InputRecord[]> {
  if (!picker) {
    for await (const batch of ndjsonBatches(chunks, name)) {
      for (const r of batch) r.record = convert(r.record, name, r.line);
      yield batch;
    }
    return;
  }
  for await (const { buf, start, ends, first } of splitLineSpans(chunks, { name })) {
    let batch: InputRecord[] = [];
    let s = start;
    for (let i = 0; i < ends.length; i++) {
      const e = ends[i]!;
      const line = first + i;
      let record = i > 0 ? picker.pick(buf, s, e) : undefined;
      if (!record) {
        const full = parseNdjsonLine(buf.toString("utf8", s, e), name, line);
        if (full) record = convert(full, name, line);
      }
      if (record) batch.push({ record, line, source: name });
      s = e + 1;
      // Small batches: records are garbage before the next collection rather than copied by it.
      if (batch.length === PICKED_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }
}

function firstByte(b: Buffer): number {
  let i = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}

function convert(rec: FlatRecord, name: string, line: number, text?: string): FlatRecord {
  try {
    return toAnalysisRecord(rec);
  } catch (e) {
    if (e instanceof RecordError) {
      // Point at the line of the offending key inside a multi-line element.
      let at = line;
      if (text !== undefined) {
        const pos = text.indexOf(JSON.stringify(e.key));
        if (pos > 0) at += countNewlines(text, 0, pos);
      }
      throw new InputError(name, at, e.message);
    }
    throw e;
  }
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf("\n", from); i >= 0 && i < to; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * Split a JSON array of objects into its elements as bytes arrive, with
 * the line each element starts on. Only one element is held at a time.
 */
export async function* readJsonArrayStream(
  chunks: AsyncIterable<Buffer>,
  name: string,
): AsyncGenerator<InputRecord[]> {
  let line = 1;
  /** 0: before `[`; 1: inside the array between elements; 2: inside an element; 3: after `]`. */
  let state = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expectElement = true;
  let index = 0;
  let parts: Buffer[] = [];
  let startLine = 0;
  let bom = true;
  const fail = (msg: string, at = line): never => {
    throw new InputError(name, at, msg);
  };
  for await (const chunk of chunks) {
    let buf = chunk;
    if (bom) {
      bom = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    let elemStart = state === 2 ? 0 : -1;
    const batch: InputRecord[] = [];
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === 0x0a) {
        line++;
        continue;
      }
      if (state === 2) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) inString = false;
          else {
            // Jump to the next quote or backslash (strings hold no raw newlines).
            let j = i + 1;
            while (j < buf.length) {
              const d = buf[j]!;
              if (d === 0x22 || d === 0x5c || d === 0x0a) break;
              j++;
            }
            i = j - 1;
          }
          continue;
        }
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if (c === 0x7d || c === 0x5d) {
          depth--;
          if (depth === 0) {
            parts.push(buf.subarray(elemStart, i + 1));
            const text =
              parts.length === 1
                ? parts[0]!.toString("utf8")
                : Buffer.concat(parts).toString("utf8");
            parts = [];
            state = 1;
            expectElement = false;
            index++;
            let v: unknown;
            try {
              v = JSON.parse(text);
            } catch (err) {
              const m = /position (\d+)/.exec((err as Error).message);
              fail(
                `invalid JSON in element ${index} of the array: ${(err as Error).message}`,
                m ? startLine + countNewlines(text, 0, Number(m[1])) : startLine,
              );
            }
            const rec = v as FlatRecord;
            batch.push({
              record: convert(rec, name, startLine, text),
              line: startLine,
              source: name,
            });
          }
        }
        continue;
      }
      if (c === 0x20 || c === 0x09 || c === 0x0d) continue;
      if (state === 0) {
        if (c !== 0x5b)
          fail(`expected a JSON array ("["), found ${JSON.stringify(String.fromCharCode(c))}`);
        state = 1;
        continue;
      }
      if (state === 3) fail("unexpected data after the end of the JSON array");
      // state 1: between elements
      if (c === 0x5d) {
        if (expectElement && index > 0) fail('expected an object after ","');
        state = 3;
      } else if (c === 0x2c) {
        if (expectElement) fail('expected an object, found ","');
        expectElement = true;
      } else if (c === 0x7b) {
        if (!expectElement) fail('expected "," or "]" between array elements');
        state = 2;
        depth = 1;
        startLine = line;
        elemStart = i;
      } else {
        fail(`element ${index + 1} of the JSON array is not an object (expected "{")`);
      }
    }
    if (state === 2) parts.push(elemStart >= 0 ? buf.subarray(elemStart) : buf);
    if (batch.length) yield batch;
  }
  if (state === 0) return;
  if (state !== 3)
    fail(
      state === 2
        ? `unexpected end of input inside element ${index + 1} (started on line ${startLine})`
        : 'unexpected end of input: the JSON array is not closed with "]"',
    );
}

export interface AnalysisReadOptions {
  /**
   * Keys the tool groups or filters by: when records were read but none
   * has one of them, that is an InputError naming the key, with a
   * suggestion from the keys the records do have (exit 2).
   */
  required?: string[];
  /**
   * Every key the tool reads: records may hold only these (and `status`),
   * which lets NDJSON input skip building the rest (`FieldPicker`).
   * Undefined: records hold all their keys.
   */
  fields?: string[];
}

/** The info line an analysis tool logs for the row reports `forEachAnalysisRecord` left out. */
export function rowReportsNote(n: number): string {
  return `${n} records reporting a query row that found nothing (status no-match or failed) were left out`;
}

/**
 * Feed every record of the inputs to `add`, stopping early when the
 * tool's abort signal fires (check `signalExitCode(io.signal)` after).
 * A record reporting a batch row that found nothing (`status` no-match or
 * failed, as findscu-ts writes them) names no data and is left out;
 * returns how many were.
 */
export async function forEachAnalysisRecord(
  paths: string[],
  io: Pick<Io, "stdin" | "signal">,
  add: (record: FlatRecord) => void,
  o: AnalysisReadOptions = {},
): Promise<number> {
  let unseen = [...new Set(o.required ?? [])];
  const keys = new Set<string>();
  let records = 0;
  let rowReports = 0;
  // The required keys are picked too, or a record could never show them.
  const fields = o.fields && [...new Set([...o.fields, ...(o.required ?? []), "status"])];
  for await (const batch of readAnalysisBatches(paths, io, fields)) {
    records += batch.length;
    if (unseen.length) {
      for (const r of batch)
        if (unseen.some((k) => r.record[k] !== undefined))
          unseen = unseen.filter((k) => r.record[k] === undefined);
      // Keys to suggest from: those of the first record of each batch, a few hundred at most.
      if (keys.size < 500) for (const k of Object.keys(batch[0]!.record)) keys.add(k);
    }
    for (const r of batch) {
      if (isRowReport(r.record)) rowReports++;
      else add(r.record);
    }
    if (io.signal?.aborted) return rowReports;
  }
  if (records > 0 && unseen.length) {
    const key = unseen[0]!;
    const hint = nearestName(key, keys);
    const source = (paths.length ? paths : ["-"]).map(sourceName).join(", ");
    throw new InputError(
      source,
      undefined,
      `no record has ${key}${hint ? ` (did you mean "${hint}"?)` : ""}; the records have ${[...keys].slice(0, 8).join(", ")}${keys.size > 8 ? ", …" : ""}`,
    );
  }
  return rowReports;
}
