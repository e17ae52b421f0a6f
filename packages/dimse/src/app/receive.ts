/**
 * Receiving objects under `-od` (storescp-ts, movescu-ts/getscu-ts): the
 * temporary folder. Files are written under `-od/.<tool>.tmp/<run>/` (the
 * same file system as their place, so the final rename is atomic), one
 * folder per process, named by PID and process start time; a run removes
 * the folders of earlier runs that were killed (their PID no longer runs,
 * or runs another process) and keeps those of runs still going.
 */
import { readFileSync } from "node:fs";
import { readdir, rm, rmdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { setFlagsFromString } from "node:v8";

/**
 * V8's interrupt budget for a process that receives objects (its
 * default is 132 KiB of bytecode run): see `tuneJitForReceiving`.
 */
export const RECEIVER_INTERRUPT_BUDGET = 1_000_000;

/**
 * Let V8 optimise only the functions that stay hot. A receiver's JavaScript
 * is a thin layer over system calls (read, write, open, link, the
 * response's write); with V8's default budget, the first 500 objects of an
 * association had TurboFan compile about 70 functions, and 30 more in the
 * next 500, on threads that take the cores from the sender, for code that
 * runs as well as Sparkplug's baseline. With the budget raised, 14 and 3,
 * and the receiver's CPU time per association fell by about a third (tools/
 * bench/storage.bench.ts). Called once serving starts: the flag is part of
 * what V8 checks a code cache against, and the bundle's cache is taken by then.
 */
export function tuneJitForReceiving(): void {
  setFlagsFromString(`--interrupt-budget=${RECEIVER_INTERRUPT_BUDGET}`);
}

export class TempFolders {
  /** `-od/.<tool>.tmp`, shared by the runs writing to `-od`. */
  readonly root: string;
  /** This run's folder. */
  readonly dir: string;

  /**
   * @param tools the names of the bins that write here (a bare-PID folder
   *   stays only while its PID runs one of them)
   */
  constructor(
    od: string,
    tool: string,
    private readonly tools: RegExp = new RegExp(`^${tool}(\\.js)?$`),
  ) {
    this.root = join(od, `.${tool}.tmp`);
    this.dir = join(this.root, runMark(process.pid));
  }

  /** Remove the folders of earlier runs that were killed. */
  async removeStale(): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch {
      return;
    }
    for (const e of entries) {
      if (join(this.root, e) === this.dir || live(e, this.tools)) continue;
      // A folder that cannot be removed (read-only -od) is left: it never blocks a run.
      await rm(join(this.root, e), { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Remove this run's folder (and the shared one once empty). */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    await rmdir(this.root).catch(() => undefined);
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process's start time (clock ticks since boot, /proc/PID/stat field 22); undefined without /proc. */
export function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * A run's temporary folder name: its PID and the process's start time, so
 * a later process that reuses the PID does not make a killed run's folder
 * look alive.
 */
function runMark(pid: number): string {
  const start = startTicks(pid);
  return start === undefined ? String(pid) : `${pid}-${start}`;
}

/**
 * Whether a temporary folder belongs to a running process. A bare-PID
 * folder (earlier versions, or no /proc) is live while its PID runs and,
 * where /proc tells, is one of `tools`: a reused PID does not keep it.
 */
function live(name: string, tools: RegExp): boolean {
  const m = /^(\d+)(?:-(\d+))?$/.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (!(pid > 0) || !running(pid)) return false;
  if (m[2] !== undefined) return startTicks(pid) === m[2];
  try {
    // The bin (bin/movescu-ts.js, or node_modules/.bin/getscu-ts) is one of the arguments.
    return readFileSync(`/proc/${pid}/cmdline`, "latin1")
      .split("\0")
      .some((a) => tools.test(basename(a)));
  } catch {
    return true;
  }
}
