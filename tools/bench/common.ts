/** Helpers shared by the benchmark scripts: timing child processes with GNU time. */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readdir, readFile } from "node:fs/promises";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { parsePart10 } from "@dicom-pipes/dimse/dicom";
import { binPath } from "@dicom-pipes/test-support/bins";

export interface Sample {
  wall: number;
  rssMb: number;
  code: number | null;
  /** User + system CPU seconds (less sensitive than wall time to other load on the machine). */
  cpu?: number;
}

/** Run a command under /usr/bin/time; stdout and stderr go to /dev/null, stderr to the file `stderr` if given. */
export function timed(
  cmd: string,
  args: string[],
  o: { env?: Record<string, string>; stdin?: string; stderr?: string } = {},
): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), "bench-time-"));
  const out = join(dir, "time.txt");
  return new Promise((resolve, reject) => {
    // Wall time from the clock here (GNU time's %e has 10 ms ticks, too coarse for start-up).
    const started = process.hrtime.bigint();
    const err = o.stderr ? openSync(o.stderr, "w") : "ignore";
    const child = spawn("/usr/bin/time", ["-o", out, "-f", "%e %M %U %S", cmd, ...args], {
      env: { ...process.env, TCP_NODELAY: "1", ...o.env },
      stdio: [o.stdin ? "pipe" : "ignore", "ignore", err],
    });
    if (typeof err === "number") closeSync(err);
    if (o.stdin && child.stdin) child.stdin.end(o.stdin);
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const [, kb, user, sys] = readFileSync(out, "utf8")
        .trim()
        .split(/\s+/)
        .slice(-4)
        .map(Number) as [number, number, number, number];
      rmSync(dir, { recursive: true, force: true });
      resolve({ wall, rssMb: kb / 1024, code, cpu: user + sys });
    });
  });
}

export function node(tool: string): [string, string[]] {
  return [process.execPath, [binPath(tool)]];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Alternate two commands `runs` times; returns medians. */
export async function sideBySide(
  runs: number,
  a: () => Promise<Sample>,
  b: () => Promise<Sample>,
): Promise<{ a: Sample; b: Sample }> {
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    as.push(await a());
    bs.push(await b());
  }
  for (const s of [...as, ...bs])
    if (s.code !== 0) throw new Error(`a benchmarked command exited ${s.code}`);
  return {
    a: { wall: median(as.map((s) => s.wall)), rssMb: median(as.map((s) => s.rssMb)), code: 0 },
    b: { wall: median(bs.map((s) => s.wall)), rssMb: median(bs.map((s) => s.rssMb)), code: 0 },
  };
}

export function row(cells: Array<string | number>, widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 12)).join(" ");
}

/** One 512×512 16-bit CT image from gen-archive (made under `dir`): its path and parsed form. */
export async function benchCt(
  dir: string,
  seed: string,
): Promise<{ path: string; part10: ReturnType<typeof parsePart10> }> {
  await generateArchive({
    out: dir,
    patients: 8,
    seed,
    rows: 512,
    cols: 512,
    bits: 16,
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 1,
    layout: "flat",
  });
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const part10 = parsePart10(await readFile(path));
    if (part10.dataset.string(0x00080060) === "CT") return { path, part10 };
  }
  throw new Error("gen-archive made no CT image; change the seed");
}
