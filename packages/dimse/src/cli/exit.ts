/**
 * Exit statuses shared by every dicom-pipes tool. Network codes borrow
 * DCMTK's ranges (movescu documents 45, 60, 61, 68, 69).
 */
export const Exit = {
  /** Success, including zero matches. */
  OK: 0,
  /** Failure: failure status from the peer, I/O error, peer abort, timeout after association. */
  FAILURE: 1,
  /** Usage error or invalid input (bad option, bad query row, malformed line). */
  USAGE: 2,
  /** Completed, but some items failed (per-file or per-request failures). */
  PARTIAL: 3,
  /**
   * The peer aborted the association during a store (DCMTK storescu: a
   * script written for storescu tells a peer abort by it).
   */
  PEER_ABORT: 10,
  /** Output directory missing or not writable (DCMTK movescu). */
  OUTPUT_DIR: 45,
  /** Cannot listen on the port (DCMTK movescu). */
  LISTEN: 60,
  /** Cannot establish the association: unreachable, refused, rejected, no acceptable context (DCMTK movescu). */
  ASSOCIATION: 61,
  /** C-MOVE/C-GET completed with warnings or failed sub-operations (DCMTK movescu). */
  RETRIEVE_WARNING: 68,
  /** C-MOVE/C-GET failed (DCMTK movescu). */
  RETRIEVE_FAILURE: 69,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

/** What each status means: `--help`'s exit table and the README's "Exit status" table (tested equal). */
export const EXIT_MEANINGS: Readonly<Record<number, string>> = {
  0: "success (zero matches included)",
  1: "failure (failure status, I/O error, peer abort, timeout)",
  2: "usage error or invalid input",
  3: "completed with per-item failures",
  10: "the peer aborted the association during a store",
  45: "output directory missing or not writable",
  60: "cannot listen on the port",
  61: "association failed (unreachable, refused, rejected, no context)",
  68: "retrieve completed with warnings/failed sub-operations",
  69: "retrieve failed",
};

/** The statuses of a tool ended by a signal (always possible). */
export const SIGNAL_MEANINGS: Readonly<Record<number, string>> = {
  130: "interrupted (SIGINT)",
  143: "terminated (SIGTERM)",
};

/**
 * The exit-status table of a tool's --help, listing only the statuses it
 * can return (130 and 143, for SIGINT and SIGTERM, are always added).
 */
export function exitTable(codes: readonly number[]): string {
  const lines = ["Exit status:"];
  for (const [c, m] of exitStatuses(codes)) {
    if (c === Exit.SIGTERM) continue;
    lines.push(
      c === Exit.SIGINT
        ? `  130  ${SIGNAL_MEANINGS[130]}, 143 ${SIGNAL_MEANINGS[143]}`
        : `  ${String(c).padEnd(5)}${m}`,
    );
  }
  return lines.join("\n");
}

/** The statuses a tool can return with their meanings, in order, 130 and 143 last (for man pages). */
export function exitStatuses(codes: readonly number[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const c of [...new Set(codes)].sort((x, y) => x - y)) {
    if (c === Exit.SIGINT || c === Exit.SIGTERM) continue;
    const m = EXIT_MEANINGS[c];
    if (!m) throw new Error(`exit status ${c} has no description`);
    out.push([c, m]);
  }
  out.push([Exit.SIGINT, SIGNAL_MEANINGS[130]!], [Exit.SIGTERM, SIGNAL_MEANINGS[143]!]);
  return out;
}

/** An error that maps to an exit status, printed as one line. */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = "ExitError";
  }
}

export class UsageError extends ExitError {
  constructor(message: string) {
    super(Exit.USAGE, message);
    this.name = "UsageError";
  }
}
