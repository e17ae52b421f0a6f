/** Streams a tool runs with (injectable for in-process tests). */
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

/**
 * The real process streams, with SIGINT/SIGTERM turned into an abort
 * signal (a second signal exits at once).
 */
export function processIo(): Io {
  const ctrl = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ctrl.signal.aborted) process.exit(sig === "SIGINT" ? 130 : 143);
    ctrl.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: ctrl.signal };
}

/** Exit status for an aborted signal (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: AbortSignal | undefined): number | undefined {
  if (!signal?.aborted) return undefined;
  return signal.reason === "SIGTERM" ? 143 : 130;
}
