/**
 * storescp's event commands: `-xcr` after each object, `-xcs` at the end
 * of a study (a different StudyInstanceUID arrives, or `-tos` seconds pass
 * without objects), with `-rns` renaming first. Commands run through a
 * shell, the placeholders' values in environment variables (never in the
 * command text); their output goes to stderr (stdout carries records).
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

/** The environment variable that carries each placeholder's value. */
export const HOOK_VARIABLES = {
  p: "STORESCP_DIR",
  f: "STORESCP_FILE",
  a: "STORESCP_CALLING_AET",
  c: "STORESCP_CALLED_AET",
  r: "STORESCP_PEER_HOST",
} as const;

type Placeholder = keyof typeof HOOK_VARIABLES;

/** A command line ready for `sh -c`, and the values it refers to. */
export interface HookCommand {
  command: string;
  env: Record<string, string>;
}

/**
 * Substitute DCMTK's placeholders without putting any value into the
 * command text: each `#x` becomes a quoted reference to an environment
 * variable that holds the value, so a value from the network (an AE title,
 * a UID in a file name) is never parsed by the shell, whatever it contains.
 * The quoting follows where the placeholder stands, so that for ordinary
 * values the command sees what DCMTK's would: `#a #c #r` as if
 * substituted in double quotes, `#p #f` bare (but never split into words).
 */
export function substitute(cmd: string, c: HookContext): HookCommand {
  const values: Record<Placeholder, string> = {
    p: c.dir,
    f: c.file ?? "",
    a: c.callingAet,
    c: c.calledAet,
    r: c.host,
  };
  const env: Record<string, string> = {};
  for (const [k, name] of Object.entries(HOOK_VARIABLES))
    env[name] = values[k as Placeholder].replace(/\0/g, "");
  const quotedByDcmtk = (k: Placeholder) => k === "a" || k === "c" || k === "r";
  let out = "";
  // Quoting state per nesting level ($( ), ( ), backquotes each start a fresh one).
  const frames: Array<{ q: "none" | "single" | "double"; close: string }> = [
    { q: "none", close: "" },
  ];
  for (let i = 0; i < cmd.length; i++) {
    const f = frames[frames.length - 1]!;
    const ch = cmd[i]!;
    const next = cmd[i + 1] ?? "";
    if (ch === "#" && next in HOOK_VARIABLES) {
      const k = next as Placeholder;
      const ref = `\${${HOOK_VARIABLES[k]}}`;
      const dq = quotedByDcmtk(k) ? `\\"${ref}\\"` : ref;
      // Inside single quotes: leave them, expand in double quotes, re-enter.
      out += f.q === "single" ? `'"${dq}"'` : f.q === "double" ? ref : `"${ref}"`;
      i++;
      continue;
    }
    out += ch;
    if (f.q === "single") {
      if (ch === "'") f.q = "none";
      continue;
    }
    if (ch === "\\") {
      if (i + 1 < cmd.length) out += cmd[++i];
      continue;
    }
    if (ch === "$" && next === "(") {
      out += next;
      i++;
      frames.push({ q: "none", close: ")" });
      continue;
    }
    if (ch === "`") {
      if (f.close === "`") frames.pop();
      else frames.push({ q: "none", close: "`" });
      continue;
    }
    if (f.q === "double") {
      if (ch === '"') f.q = "none";
      continue;
    }
    if (ch === "'") f.q = "single";
    else if (ch === '"') f.q = "double";
    else if (ch === "(") frames.push({ q: "none", close: ")" });
    else if (ch === ")" && f.close === ")") frames.pop();
    else if (ch === "#" && /^$|[\s;&|()]$/.test(cmd[i - 1] ?? "")) {
      // A comment: quotes in it mean nothing; it runs to the end of the line.
      const end = cmd.indexOf("\n", i);
      const stop = end < 0 ? cmd.length : end;
      out += cmd.slice(i + 1, stop);
      i = stop - 1;
    }
  }
  return { command: out, env };
}

export function runCommand(
  cmd: HookCommand,
  sync: boolean,
  stderr: Writable,
  log: CliLogger,
): Promise<void> {
  log.debug(`executing command: ${cmd.command}`);
  if (log.enabled("debug"))
    log.debug(
      `with ${Object.entries(cmd.env)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(" ")}`,
    );
  const child = spawn("sh", ["-c", cmd.command], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...cmd.env },
  });
  child.stdout.on("data", (d: Buffer) => stderr.write(d));
  child.stderr.on("data", (d: Buffer) => stderr.write(d));
  const done = new Promise<void>((resolve) => {
    child.on("error", (e) => {
      log.error(`command failed to start: ${e.message}`);
      resolve();
    });
    child.on("close", (code) => {
      if (code) log.warn(`command exited with status ${code}: ${cmd.command}`);
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
    private readonly o: {
      onEndOfStudy?: string;
      rename: boolean;
      timeoutSeconds?: number;
      sync: boolean;
      stderr: Writable;
      log: CliLogger;
    },
  ) {}

  get active(): boolean {
    return Boolean(this.o.onEndOfStudy || this.o.rename || this.o.timeoutSeconds !== undefined);
  }

  /** Record a stored object; ends the previous study when this one differs. */
  async stored(
    studyUid: string,
    path: string,
    prefix: string,
    ctx: Omit<HookContext, "dir" | "file">,
  ): Promise<void> {
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
      if (this.o.onEndOfStudy)
        await runCommand(
          substitute(this.o.onEndOfStudy, { ...s.ctx, dir: s.dir }),
          this.o.sync,
          this.o.stderr,
          this.o.log,
        );
    });
    return this.chain;
  }
}
