/** Whether a tool's stdin holds data it will not read (checked without reading or blocking). */
import { fstatSync, readFileSync } from "node:fs";
import { type Io, isProcessIo } from "../io/io.js";

/** The read offset of fd 0 (Linux /proc), or 0 where it cannot be known. */
function stdinOffset(): number {
  try {
    const m = /^pos:\s*(\d+)/m.exec(readFileSync("/proc/self/fdinfo/0", "latin1"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * True when the process's stdin is a pipe, or a regular file not read to
 * its end: data someone meant for this command. Nothing is read from it,
 * so a `while read` loop around the command keeps its input. (Whether a
 * pipe holds data cannot be told without reading it: every pipe counts.)
 * Terminals, /dev/null, sockets and injected streams are not reported.
 */
export function stdinHasData(io: Io): boolean {
  if (!isProcessIo(io)) return false;
  try {
    const st = fstatSync(0);
    if (st.isFIFO()) return true;
    return st.isFile() && st.size > stdinOffset();
  } catch {
    return false;
  }
}
