/**
 * storescp's event commands: `-xcr` after each object, `-xcs` at the end
 * of a study (a different StudyInstanceUID arrives, or `-tos` seconds pass
 * without objects), with `-rns` renaming first. Commands run through a
 * shell; their output goes to stderr (stdout carries records).
 */
import { spawn } from "node:child_process";
import { rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import type { CliLogger } from "@dicom-pipes/dimse/cli";

export interface HookContext {
  dir: string;
  file?: string;
  callingAet: string;
  calledAet: string;
  host: string;
}

/** Substitute DCMTK's placeholders: `#a #c #r` in double quotes, `#p #f` bare. */
export function substitute(cmd: string, c: HookContext): string {
  return cmd
    .replace(/#p/g, c.dir)
    .replace(/#f/g, c.file ?? "")
    .replace(/#a/g, `"${c.callingAet}"`)
    .replace(/#c/g, `"${c.calledAet}"`)
    .replace(/#r/g, `"${c.host}"`);
}

export function runCommand(cmd: string, sync: boolean, stderr: Writable, log: CliLogger): Promise<void> {
  log.debug(`executing command: ${cmd}`);
  const child = spawn("sh", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d: Buffer) => stderr.write(d));
  child.stderr.on("data", (d: Buffer) => stderr.write(d));
  const done = new Promise<void>((resolve) => {
    child.on("error", (e) => {
      log.error(`command failed to start: ${e.message}`);
      resolve();
    });
    child.on("close", (code) => {
      if (code) log.warn(`command exited with status ${code}: ${cmd}`);
      resolve();
    });
  });
  return sync ? done : Promise.resolve();
}

interface StudyState {
  uid: string;
  dir: string;
  files: Array<{ path: string; prefix: string }>;
  ctx: Omit<HookContext, "dir" | "file">;
}

/** Tracks the current study for -xcs, -rns and -tos. */
export class StudyTracker {
  private current?: StudyState;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: { onEndOfStudy?: string; rename: boolean; timeoutSeconds?: number; sync: boolean; stderr: Writable; log: CliLogger },
  ) {}

  get active(): boolean {
    return Boolean(this.o.onEndOfStudy || this.o.rename || this.o.timeoutSeconds !== undefined);
  }

  /** Record a stored object; ends the previous study when this one differs. */
  async stored(studyUid: string, path: string, prefix: string, ctx: Omit<HookContext, "dir" | "file">): Promise<void> {
    if (!this.active) return;
    if (this.current && this.current.uid !== studyUid) await this.end();
    this.current ??= { uid: studyUid, dir: dirname(path), files: [], ctx };
    this.current.files.push({ path, prefix });
    if (this.o.timeoutSeconds !== undefined) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.end(), this.o.timeoutSeconds * 1000);
      this.timer.unref();
    }
  }

  /** End the current study (also called at shutdown). */
  end(): Promise<void> {
    clearTimeout(this.timer);
    const s = this.current;
    this.current = undefined;
    if (!s) return this.chain;
    this.chain = this.chain.then(async () => {
      if (this.o.rename) {
        let n = 0;
        for (const f of s.files) {
          n++;
          const target = join(dirname(f.path), `${f.prefix}${String(n).padStart(6, "0")}`);
          try {
            await rename(f.path, target);
          } catch (e) {
            this.o.log.warn(`cannot rename ${basename(f.path)}: ${(e as Error).message}`);
          }
        }
      }
      if (this.o.onEndOfStudy) await runCommand(substitute(this.o.onEndOfStudy, { ...s.ctx, dir: s.dir }), this.o.sync, this.o.stderr, this.o.log);
    });
    return this.chain;
  }
}
