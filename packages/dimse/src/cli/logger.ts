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

export function createLogger(tool: string, stream: Writable, level: LogLevel = "warn"): CliLogger {
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
      push(Buffer.from(lines.map((l) => `${letter}: ${l}\n`).join(""), "latin1"));
    },
    raw(text) {
      logger.flush();
      stream.write(text);
    },
    flush() {
      if (pending.length === 0) return;
      const data = Buffer.concat(pending);
      pending = [];
      size = 0;
      // A log line never runs into a progress line.
      clearProgressLine(stream);
      stream.write(data);
    },
  };
  // Coalesce lines: the response dump can be tens of thousands of lines.
  let pending: Buffer[] = [];
  let size = 0;
  let scheduled = false;
  function push(b: Buffer): void {
    pending.push(b);
    size += b.length;
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
      Buffer.from(
        `${msg
          .split("\n")
          .map((line) => prefix + line)
          .join("\n")}\n`,
      ),
    );
  }
  return logger;
}

export function parseLogLevel(s: string): LogLevel | undefined {
  return (ORDER as string[]).includes(s) ? (s as LogLevel) : undefined;
}
