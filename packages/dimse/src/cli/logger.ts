/**
 * The stderr logger: `<L>: <tool>: message` where L is DCMTK's level letter
 * (F, E, W, I, D, T), one line per message line. Levels follow DCMTK's
 * `-q/-v/-d/-ll`.
 */
import type { Writable } from "node:stream";
import type { LogLevel, Logger } from "../net/logger.js";
import { clearProgressLine } from "./progress.js";

const ORDER: LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace"];
const LETTER: Record<LogLevel, string> = {
  fatal: "F",
  error: "E",
  warn: "W",
  info: "I",
  debug: "D",
  trace: "T",
};

export interface CliLogger extends Logger {
  readonly tool: string;
  level: LogLevel;
  trace(msg: string): void;
  /** Write lines verbatim with DCMTK's `I: ` prefix only (response dumps), as latin1 bytes. */
  dcmtkLines(letter: string, lines: string[]): void;
  /** Write a raw string to stderr (progress bars). */
  raw(text: string): void;
  /** Write out anything buffered (lines are coalesced per event-loop turn). */
  flush(): void;
}

/**
 * A logger writing to `stream`, or to what `stream()` returns when the first line is written (a
 * run that logs nothing, every `--help`, does not make process.stderr, which loads Node's streams).
 */
export function createLogger(
  tool: string,
  stream: Writable | (() => Writable),
  level: LogLevel = "warn",
): CliLogger {
  let made: Writable | undefined;
  const out = () => (made ??= typeof stream === "function" ? stream() : stream);
  const logger: CliLogger = {
    tool,
    level,
    enabled(l: LogLevel) {
      return ORDER.indexOf(l) <= ORDER.indexOf(logger.level);
    },
    fatal: (m) => write("fatal", m),
    error: (m) => write("error", m),
    warn: (m) => write("warn", m),
    info: (m) => write("info", m),
    debug: (m) => write("debug", m),
    trace: (m) => write("trace", m),
    dcmtkLines(letter, lines) {
      if (lines.length === 0) return;
      // Dump lines carry values byte for byte (latin1 strings).
      // join() makes one flat string, where += would leave a tree of a few
      // string pieces per line for the garbage collector to copy until the flush.
      const prefix = `${letter}: `;
      push(`${prefix}${lines.join(`\n${prefix}`)}\n`, "latin1");
    },
    raw(text) {
      logger.flush();
      out().write(text);
    },
    flush() {
      if (pending.length === 0 && !text) return;
      const chunks = pending;
      const last = text;
      pending = [];
      text = "";
      size = 0;
      // A log line never runs into a progress line.
      clearProgressLine(out());
      if (chunks.length === 0) out().write(last, encoding);
      else out().write(Buffer.concat([...chunks, Buffer.from(last, encoding)]));
    },
  };
  // Coalesce lines: the response dump can be tens of thousands of lines.
  // Text of one encoding is joined as a string, turned into bytes when
  // the encoding changes or at the flush.
  let pending: Buffer[] = [];
  let text = "";
  let encoding: BufferEncoding = "latin1";
  let size = 0;
  let scheduled = false;
  function push(t: string, enc: BufferEncoding): void {
    if (text && enc !== encoding) {
      pending.push(Buffer.from(text, encoding));
      text = "";
    }
    encoding = enc;
    text += t;
    size += t.length;
    if (size >= 65536) return logger.flush();
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        logger.flush();
      });
    }
  }
  function write(l: LogLevel, msg: string): void {
    if (!logger.enabled(l)) return;
    const prefix = `${LETTER[l]}: ${tool}: `;
    push(
      `${msg
        .split("\n")
        .map((line) => prefix + line)
        .join("\n")}\n`,
      "utf8",
    );
  }
  return logger;
}

export function parseLogLevel(s: string): LogLevel | undefined {
  return (ORDER as string[]).includes(s) ? (s as LogLevel) : undefined;
}
