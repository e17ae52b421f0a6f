/** Spawn the real executables of the workspace (their committed bin shims). */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function binPath(tool: string): string {
  for (const base of ["packages", "tools"]) {
    const p = join(ROOT, base, tool, "bin", `${tool}.js`);
    if (existsSync(p)) return p;
  }
  const alias: Record<string, string> = { "getscu-ts": "movescu-ts" };
  const pkg = alias[tool];
  if (pkg) return join(ROOT, "packages", pkg, "bin", `${tool}.js`);
  throw new Error(`no bin for ${tool}`);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout as raw bytes. */
  stdoutBytes: Buffer;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** Run a tool with node and collect its output; stdin is closed (or fed `input`). */
export function runBin(tool: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath(tool), ...args], {
      cwd: o.cwd,
      env: { ...process.env, TCP_NODELAY: "1", ...o.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString("utf8"), stderr: Buffer.concat(err).toString("latin1"), stdoutBytes });
    });
    child.stdin.on("error", () => undefined);
    if (o.input !== undefined) child.stdin.end(o.input);
    else child.stdin.end();
  });
}

/** Parse NDJSON output into objects. */
export function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
