/**
 * The one line splitter of every line-oriented input (NDJSON records, path
 * lists): linear in the input whatever the line length (a partial line is
 * kept as a list of pieces and joined once, when its end arrives), with a
 * maximum line length so that a runaway line is an error naming it rather
 * than unbounded memory. Lines are found in the bytes (`indexOf`), never
 * by concatenating chunks: only a line that straddles two chunks is
 * copied. A chunk may be a reused buffer (`readFileChunks`): nothing
 * yielded refers to it once the next chunk is asked for.
 */
import { InputError } from "./input.js";

/** Longest accepted line, in bytes (64 MiB; `DICOM_PIPES_MAX_LINE` overrides). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export function maxLineBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.DICOM_PIPES_MAX_LINE);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_MAX_LINE_BYTES;
}

export interface LineBatch {
  /** The complete lines of one chunk, without their `\n` (a `\r` is kept). */
  lines: string[];
  /** 1-based number of the first line of the batch. */
  first: number;
}

/**
 * Complete lines as byte ranges: line `first + i` is `buf[s, ends[i])`
 * where `s` is `start` for the first and `ends[i - 1] + 1` after (no
 * `\n`; a `\r` is kept). `buf` is valid until the next batch is asked for.
 */
export interface LineSpans {
  buf: Buffer;
  start: number;
  ends: number[];
  /** 1-based number of the first line of the batch. */
  first: number;
}

export interface SplitOptions {
  /** Source name for error messages. */
  name: string;
  /** Default: `maxLineBytes()`. */
  maxLineBytes?: number;
}

/**
 * Split byte chunks into lines as byte ranges: one batch for the lines
 * within a chunk, and one for a line that began in an earlier chunk. A
 * line longer than the maximum is an `InputError` naming its number.
 */
export async function* splitLineSpans(
  chunks: AsyncIterable<Buffer | string>,
  o: SplitOptions,
): AsyncGenerator<LineSpans> {
  const max = o.maxLineBytes ?? maxLineBytes();
  /** Copies of the pieces of the line not yet ended. */
  let parts: Buffer[] = [];
  let partial = 0;
  let line = 1;
  const tooLong = (at: number): never => {
    throw new InputError(
      o.name,
      at,
      `line longer than ${max} bytes (the maximum line length; set DICOM_PIPES_MAX_LINE to raise it)`,
    );
  };
  for await (const c of chunks) {
    const chunk = typeof c === "string" ? Buffer.from(c) : c;
    let nl = chunk.indexOf(10);
    if (nl < 0) {
      partial += chunk.length;
      if (partial > max) tooLong(line);
      parts.push(Buffer.from(chunk));
      continue;
    }
    let start = 0;
    if (parts.length) {
      if (partial + nl > max) tooLong(line);
      parts.push(chunk.subarray(0, nl));
      const joined = Buffer.concat(parts, partial + nl);
      parts = [];
      partial = 0;
      yield { buf: joined, start: 0, ends: [joined.length], first: line++ };
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    const ends: number[] = [];
    for (let from = start; nl >= 0; nl = chunk.indexOf(10, from)) {
      if (nl - from > max) tooLong(line + ends.length);
      ends.push(nl);
      from = nl + 1;
    }
    const rest = ends.length ? ends[ends.length - 1]! + 1 : start;
    if (rest < chunk.length) {
      partial = chunk.length - rest;
      if (partial > max) tooLong(line + ends.length);
      parts.push(Buffer.from(chunk.subarray(rest)));
    }
    if (ends.length) {
      const first = line;
      line += ends.length;
      yield { buf: chunk, start, ends, first };
    }
  }
  if (parts.length) {
    const joined = Buffer.concat(parts, partial);
    yield { buf: joined, start: 0, ends: [joined.length], first: line };
  }
}

/**
 * Split byte chunks into lines (strings), one batch per run of complete
 * lines (see `splitLineSpans`). A line longer than the maximum is an
 * `InputError` naming its number.
 */
export async function* splitLines(
  chunks: AsyncIterable<Buffer | string>,
  o: SplitOptions,
): AsyncGenerator<LineBatch> {
  for await (const { buf, start, ends, first } of splitLineSpans(chunks, o)) {
    // One decoding for the whole run (a UTF-8 sequence never spans a `\n` byte).
    const text = buf.toString("utf8", start, ends[ends.length - 1]);
    yield { lines: ends.length === 1 ? [text] : text.split("\n"), first };
  }
}
