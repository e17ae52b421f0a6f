/**
 * storescp-ts and storescu-ts vs DCMTK storescp and storescu, side by side
 * (TCP_NODELAY=1 for DCMTK): 1 000 × 530 KB instances each way, -j 4 vs
 * -j 1 into a forking storescp, and one 200 MB instance each way with the
 * peak RSS of our process. Wall time is the sender's, medians of runs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, mkdir, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { freePort, hasDcmtk } from "@dicom-pipes/test-support/peers";
import { binPath } from "@dicom-pipes/test-support/bins";
import { median, row, timed } from "./common.js";

if (!hasDcmtk()) {
  console.log("storage bench needs DCMTK (apt-get install dcmtk)");
  process.exit(0);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = await mkdtemp(join(tmpdir(), "bench-storage-"));
const out: string[] = [];

interface Server {
  port: number;
  proc: ChildProcess;
  dir: string;
}

async function waitPort(port: number): Promise<void> {
  const net = await import("node:net");
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`port ${port} never opened`);
}

async function startServer(kind: "dcmtk" | "ours" | "dcmtk-fork"): Promise<Server> {
  const port = await freePort();
  const dir = join(work, `recv-${kind}-${port}`);
  await mkdir(dir);
  const proc =
    kind === "ours"
      ? spawn(process.execPath, [binPath("storescp-ts"), "-od", dir, "--no-output", String(port)], {
          stdio: "ignore",
        })
      : spawn(
          "storescp",
          [...(kind === "dcmtk-fork" ? ["--fork"] : []), "+xa", "-od", dir, String(port)],
          { stdio: "ignore", env: { ...process.env, TCP_NODELAY: "1" } },
        );
  await waitPort(port);
  return { port, proc, dir };
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function stop(s: Server): Promise<number> {
  const rss = await peakRssMb(s.proc.pid!);
  s.proc.kill("SIGTERM");
  await new Promise((r) => s.proc.once("exit", r));
  const n = (await readdir(s.dir)).filter((f) => !f.startsWith(".")).length;
  await rm(s.dir, { recursive: true, force: true });
  if (n === 0) throw new Error("the receiver stored nothing");
  return rss;
}

function dcmtkSend(port: number, dir: string) {
  return timed("storescu", ["-aec", "ANY", "+sd", "+r", "127.0.0.1", String(port), dir]);
}

function oursSend(port: number, dir: string, jobs = 1) {
  return timed(process.execPath, [
    binPath("storescu-ts"),
    "-aec",
    "ANY",
    "-j",
    String(jobs),
    "+sd",
    "+r",
    "--no-output",
    "127.0.0.1",
    String(port),
    dir,
  ]);
}

async function receiveCase(label: string, dir: string, n: number): Promise<void> {
  const walls: Record<string, number[]> = { dcmtk: [], ours: [] };
  const rss: Record<string, number[]> = { dcmtk: [], ours: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const kind of ["dcmtk", "ours"] as const) {
      const srv = await startServer(kind);
      const r = await dcmtkSend(srv.port, dir);
      if (r.code !== 0) throw new Error(`storescu exited ${r.code}`);
      walls[kind]!.push(r.wall);
      rss[kind]!.push(await stop(srv));
    }
  }
  const a = median(walls.dcmtk!);
  const b = median(walls.ours!);
  out.push(
    row(
      [
        `receive ${label}: storescu → storescp | storescp-ts`,
        n,
        a.toFixed(2),
        b.toFixed(2),
        median(rss.dcmtk!).toFixed(0),
        median(rss.ours!).toFixed(0),
        `${(b / a).toFixed(2)}×`,
      ],
      W,
    ),
  );
  console.log(out.at(-1));
}

async function sendCase(label: string, dir: string, n: number): Promise<void> {
  const walls: Record<string, number[]> = { dcmtk: [], ours: [] };
  const rss: Record<string, number[]> = { dcmtk: [], ours: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const kind of ["dcmtk", "ours"] as const) {
      const srv = await startServer("dcmtk");
      const r = kind === "dcmtk" ? await dcmtkSend(srv.port, dir) : await oursSend(srv.port, dir);
      if (r.code !== 0) throw new Error(`${kind} sender exited ${r.code}`);
      walls[kind]!.push(r.wall);
      rss[kind]!.push(r.rssMb);
      await stop(srv);
    }
  }
  const a = median(walls.dcmtk!);
  const b = median(walls.ours!);
  out.push(
    row(
      [
        `send ${label}: storescu | storescu-ts → storescp`,
        n,
        a.toFixed(2),
        b.toFixed(2),
        median(rss.dcmtk!).toFixed(0),
        median(rss.ours!).toFixed(0),
        `${(b / a).toFixed(2)}×`,
      ],
      W,
    ),
  );
  console.log(out.at(-1));
}

const W = [56, 7, 9, 9, 9, 9, 8];
try {
  console.log(
    `runs: ${RUNS} (median); wall = the sender's; RSS = receiver's peak for "receive" rows, sender's for "send" rows`,
  );
  out.push(row(["case", "files", "DCMTK s", "ours s", "DCMTK MB", "ours MB", "ratio"], W));
  const small = await generateArchive({
    out: join(work, "k1000"),
    patients: 10,
    seed: "bench-storage",
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 100,
    rows: 512,
    cols: 512,
    bits: 16,
    layout: "flat",
  });
  console.log(
    `generated ${small.instances} instances of ${(small.bytes / small.instances / 1024).toFixed(0)} KB`,
  );
  await receiveCase("1000 × 530 KB", small.out, small.instances);
  await sendCase("1000 × 530 KB", small.out, small.instances);
  // -j 4 vs -j 1 into a forking storescp.
  const j: Record<number, number[]> = { 1: [], 4: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const jobs of [1, 4]) {
      const srv = await startServer("dcmtk-fork");
      const r = await oursSend(srv.port, small.out, jobs);
      j[jobs]!.push(r.wall);
      await stop(srv);
    }
  }
  const j1 = median(j[1]!);
  const j4 = median(j[4]!);
  out.push(
    row(
      [
        "storescu-ts -j 1 | -j 4 → storescp --fork",
        small.instances,
        j1.toFixed(2),
        j4.toFixed(2),
        "",
        "",
        `${(j1 / j4).toFixed(2)}× faster`,
      ],
      W,
    ),
  );
  console.log(out.at(-1));
  await rm(small.out, { recursive: true, force: true });
  // One 200 MB instance each way.
  const big = await generateArchive({
    out: join(work, "big"),
    patients: 1,
    seed: "bench-big",
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 1,
    rows: 10240,
    cols: 10240,
    bits: 16,
    layout: "flat",
  });
  console.log(`generated one instance of ${(big.bytes / 1024 / 1024).toFixed(0)} MB`);
  await receiveCase("200 MB", big.out, 1);
  await sendCase("200 MB", big.out, 1);
  console.log(`\n${out.join("\n")}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
