/**
 * The one line splitter of every line-oriented input (NDJSON records, path
 * lists): linear in the input whatever the line length (a partial line is
 * kept as a list of chunks and joined once, when its end arrives), with a
 * maximum line length so that a runaway line is an error naming it rather
 * than unbounded memory.
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

export interface SplitOptions {
  /** Source name for error messages. */
  name: string;
  /** Default: `maxLineBytes()`. */
  maxLineBytes?: number;
}

/**
 * Split byte chunks into lines, one batch per chunk holding a line end.
 * A line longer than the maximum is an `InputError` naming its number.
 */
export async function* splitLines(
  chunks: AsyncIterable<Buffer | string>,
  o: SplitOptions,
): AsyncGenerator<LineBatch> {
  const max = o.maxLineBytes ?? maxLineBytes();
  let parts: Buffer[] = [];
  let partial = 0;
  let line = 1;
  const tooLong = (): never => {
    throw new InputError(
      o.name,
      line,
      `line longer than ${max} bytes (the maximum line length; set DICOM_PIPES_MAX_LINE to raise it)`,
    );
  };
  for await (const c of chunks) {
    const chunk = typeof c === "string" ? Buffer.from(c) : c;
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      partial += chunk.length;
      if (partial > max) tooLong();
      parts.push(chunk);
      continue;
    }
    const firstEnd = chunk.indexOf(10);
    if (partial + firstEnd > max) tooLong();
    const head = parts.length
      ? Buffer.concat([...parts, chunk.subarray(0, last)])
      : chunk.subarray(0, last);
    const lines = head.toString("utf8").split("\n");
    // Only a chunk longer than the maximum can hold a long line after its first.
    if (chunk.length > max) {
      for (let i = 1; i < lines.length; i++) {
        if (Buffer.byteLength(lines[i]!) > max) {
          line += i;
          tooLong();
        }
      }
    }
    const first = line;
    line += lines.length;
    parts = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
    partial = chunk.length - last - 1;
    if (partial > max) tooLong();
    yield { lines, first };
  }
  if (parts.length) yield { lines: [Buffer.concat(parts).toString("utf8")], first: line };
}
