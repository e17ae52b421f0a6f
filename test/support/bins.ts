/**
 * Run the tools: the real executables of the workspace (their committed
 * bin shims), alone or in a shell pipeline, or a tool's `main(argv, io)`
 * in process; every way gives the same `RunResult`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Io } from "@dicom-pipes/dimse/io";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function binPath(tool: string, root = ROOT): string {
  for (const base of ["packages", "tools"]) {
    const p = join(root, base, tool, "bin", `${tool}.js`);
    if (existsSync(p)) return p;
  }
  const alias: Record<string, string> = { "getscu-ts": "movescu-ts" };
  const pkg = alias[tool];
  if (pkg) return join(root, "packages", pkg, "bin", `${tool}.js`);
  throw new Error(`no bin for ${tool}`);
}

/** What a run of a bin, a shell line, an external tool or a `main()` gave. */
export interface RunResult {
  /** Exit status (null when a signal ended the process). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout decoded (UTF-8, or latin1 where the runner says so). */
  stdout: string;
  stderr: string;
  /** stdout as raw bytes. */
  stdoutBytes: Buffer;
}

/** The result of a run from its collected output chunks (stderr decoded as latin1). */
export function runResult(
  code: number | null,
  signal: NodeJS.Signals | null,
  out: Buffer[],
  err: Buffer[],
  stdoutEncoding: "utf8" | "latin1",
): RunResult {
  const stdoutBytes = Buffer.concat(out);
  return {
    code,
    signal,
    stdout: stdoutBytes.toString(stdoutEncoding),
    stderr: Buffer.concat(err).toString("latin1"),
    stdoutBytes,
  };
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export interface Started {
  child: ChildProcess;
  /** stdout and stderr collected so far. */
  out(): string;
  err(): string;
  done: Promise<RunResult>;
}

/** Spawn a command and keep its handle (to signal it); stdin gets `input`, then closes. */
function start(command: string, args: string[], o: Omit<RunOptions, "timeoutMs">): Started {
  const child = spawn(command, args, {
    cwd: o.cwd,
    env: { ...process.env, TCP_NODELAY: "1", ...o.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  child.stdin.on("error", () => undefined);
  child.stdin.end(o.input ?? "");
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(runResult(code, signal, out, err, "utf8")));
  });
  return {
    child,
    out: () => Buffer.concat(out).toString("utf8"),
    err: () => Buffer.concat(err).toString("latin1"),
    done,
  };
}

/** Wait for a started command's end, killing it (SIGKILL) after `timeoutMs` (default 60 s). */
function finish(p: Started, timeoutMs = 60000): Promise<RunResult> {
  const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
  return p.done.finally(() => clearTimeout(timer));
}

/** Spawn a tool with node and keep its handle (to signal it); stdin gets `input`, then closes. */
export function startBin(
  tool: string,
  args: string[],
  o: Omit<RunOptions, "timeoutMs"> = {},
): Started {
  return start(process.execPath, [binPath(tool), ...args], o);
}

/** Run a tool to its end and collect its output; stdin is closed (or fed `input`). */
export function runBin(tool: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return finish(startBin(tool, args, o), o.timeoutMs);
}

/** A tool as a command word for a shell command line: `"<node>" "<bin shim>"`. */
export function shellWord(tool: string): string {
  return `"${process.execPath}" "${binPath(tool)}"`;
}

/** Run a command line with /bin/sh (e.g. a pipeline of shellWord()s) and collect its output. */
export function runShell(cmd: string, o: RunOptions = {}): Promise<RunResult> {
  return finish(start("/bin/sh", ["-c", cmd], o), o.timeoutMs);
}

/** Run a command synchronously (fixture builders such as dump2dcm); stdout kept as bytes. */
export function runSync(command: string, args: string[]): RunResult {
  const r = spawnSync(command, args, { maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout.toString("utf8"),
    stderr: r.stderr.toString("utf8"),
    stdoutBytes: r.stdout,
  };
}

/**
 * Run a tool's injectable `main(argv, io)` in process with captured
 * streams: stdin gets `input` (or is empty), the environment is `env`
 * only. For what needs no real process (no signal, no exit of a process).
 */
export async function runMain(
  main: (argv: string[], io: Io) => Promise<number>,
  argv: string[],
  o: { input?: string | Buffer; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const stdin = new PassThrough();
  stdin.end(o.input ?? "");
  const code = await main(argv, { stdin, stdout, stderr, env: o.env ?? {} });
  const stdoutBytes = Buffer.concat(out);
  return {
    code,
    signal: null,
    stdout: stdoutBytes.toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
    stdoutBytes,
  };
}

/** Poll `probe` every `everyMs` until it returns true; false after `timeoutMs`. */
export async function until(
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 20000,
  everyMs = 5,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Parse NDJSON output into objects. */
export function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
