/** Streams a tool runs with (injectable for in-process tests). */
import { fstatSync, statSync, writeSync } from "node:fs";
import type { Readable, Writable } from "node:stream";

export interface Io {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborted on SIGINT/SIGTERM; `signal.reason` is the signal name. */
  signal?: AbortSignal;
}

/** process.stdout has been asked for (through an Io's getter): text goes through it, in order. */
let stdoutMade = false;

/** How long a tool may take to stop after SIGINT/SIGTERM before it is ended anyway. */
export const SIGNAL_GRACE_MS = 5000;

/**
 * The real process streams, with SIGINT/SIGTERM turned into an abort
 * signal: the tool stops what it is doing (cancels, releases, removes its
 * temporary files) and exits 130/143. A tool that has not stopped after
 * `SIGNAL_GRACE_MS` (stuck waiting on input, a peer or a full pipe) is
 * ended by the signal itself, as is a tool that gets a second signal: the
 * status a shell sees is 128 + the signal number, 130 or 143, as well.
 */
export function processIo(graceMs = SIGNAL_GRACE_MS): Io {
  const ctrl = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ctrl.signal.aborted) die(sig);
    ctrl.abort(sig);
    // Unref'd: a tool that stops in time exits with its own status.
    setTimeout(() => die(sig), graceMs).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Getters: Node makes process.stdin (a stream, and for a pipe a socket)
  // on first use, which costs a start-up that never reads it several ms.
  const io: Io = {
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      stdoutMade = true;
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    cwd: process.cwd(),
    signal: ctrl.signal,
  };
  processIos.add(io);
  return io;
}

const processIos = new WeakSet<Io>();

/** Whether `io` is the process's own (its stdin is fd 0), told without making process.stdin. */
export function isProcessIo(io: Io): boolean {
  return processIos.has(io);
}

/**
 * Write a whole text to stdout at once (`--help`, `--version`). For the
 * process's own streams, straight to file descriptor 1 while Node has not
 * made process.stdout (which loads Node's stream modules: several ms of a
 * `--help`): a closed pipe (`| head`) ends it quietly, a non-blocking pipe
 * that is full hands the rest to process.stdout.
 */
export function writeStdoutText(io: Io, text: string): void {
  if (!isProcessIo(io) || stdoutMade) {
    io.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EPIPE") return;
    if (code !== "EAGAIN") throw e;
    io.stdout.write(bytes.subarray(done));
  }
}

/**
 * Whether the file descriptor `fd` is /dev/null (the same character
 * device): text written there is lost, so a tool need not format it (GNU
 * tar does not read files for an archive written to /dev/null either).
 */
export function isDevNull(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isCharacterDevice() && st.rdev === statSync("/dev/null").rdev;
  } catch {
    return false;
  }
}

/**
 * End the process by `sig` with its default action. Not process.exit():
 * that waits for the thread pool, which a read blocked on a FIFO or a
 * stalled network filesystem never frees.
 */
function die(sig: NodeJS.Signals): void {
  process.removeAllListeners(sig);
  process.kill(process.pid, sig);
}

/** Exit status for an aborted signal (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: AbortSignal | undefined): number | undefined {
  if (!signal?.aborted) return undefined;
  return signal.reason === "SIGTERM" ? 143 : 130;
}
