/**
 * storescp-ts and storescu-ts vs DCMTK storescp and storescu, side by side
 * (TCP_NODELAY=1 for DCMTK): 1 000 × 530 KB instances each way; receiving
 * also split into the first association after the receiver starts (cold,
 * 500 instances) and the next one (warm, another 500); storescu-ts -j 4 vs
 * -j 1 next to DCMTK's 4 storescu processes vs 1, into a forking storescp,
 * with each sender's CPU time per file (user + system) at one association
 * (BENCH_PARALLEL_ONLY=1 runs only these rows); and one 200 MB instance
 * each way with the peak RSS of our process (BENCH_SKIP_BIG=1 leaves it
 * out). BENCH_BASE=/other/checkout adds that checkout's storescp-ts to the
 * receive rows and its storescu-ts to the -j rows, in the same round robin,
 * for a before/after; BENCH_RECEIVE_ONLY=1 runs only the 530 KB receive rows. Wall
 * time is the sender's, medians of runs; receiver CPU (user + system, from
 * /proc) for the receive rows; `uptime` before and after.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm, mkdir, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { freePort, hasDcmtk } from "@dicom-pipes/test-support/peers";
import { binPath } from "@dicom-pipes/test-support/bins";
import { median, row, timed, type Sample } from "./common.js";

if (!hasDcmtk()) {
  console.log("storage bench needs DCMTK (apt-get install dcmtk)");
  process.exit(0);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Another checkout whose storescp-ts and storescu-ts join the rows (before/after). */
const BASE = process.env.BENCH_BASE;
const PARALLEL_ONLY = Boolean(process.env.BENCH_PARALLEL_ONLY);
const RECEIVE_ONLY = Boolean(process.env.BENCH_RECEIVE_ONLY);
/** The receivers of the receive rows: DCMTK's, ours, and BENCH_BASE's storescp-ts. */
const RECEIVERS = ["dcmtk", "ours", ...(BASE ? ["base"] : [])] as const;
type Receiver = "dcmtk" | "ours" | "base" | "dcmtk-fork";
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

async function startServer(kind: Receiver): Promise<Server> {
  const port = await freePort();
  const dir = join(work, `recv-${kind}-${port}`);
  await mkdir(dir);
  const bin =
    kind === "ours"
      ? binPath("storescp-ts")
      : kind === "base"
        ? binPath("storescp-ts", BASE!)
        : undefined;
  const proc = bin
    ? spawn(process.execPath, [bin, "-od", dir, "--no-output", String(port)], { stdio: "ignore" })
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

/** CPU seconds (user + system) a running process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS =
  Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

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

/** `procs` DCMTK storescu processes at once, each sending its share of `files`. */
function dcmtkSendParallel(port: number, files: string[], procs: number) {
  const shares = Array.from({ length: procs }, (_, k) => files.filter((_, i) => i % procs === k));
  const script = shares
    .map((_, k) => `storescu -aec ANY 127.0.0.1 ${port} $(cat "$${k + 1}") & p${k}=$!`)
    .concat(
      ["fail=0"],
      shares.map((_, k) => `wait $p${k} || fail=1`),
      ["exit $fail"],
    )
    .join("\n");
  const lists = shares.map((share, k) => {
    const list = join(work, `share-${procs}-${k}.txt`);
    writeFileSync(list, share.join("\n"));
    return list;
  });
  return timed("sh", ["-c", script, "sh", ...lists]);
}

/** Wall times (the sender's), the receiver's CPU seconds and peak RSS, by receiver (and phase). */
type Times = Record<string, { wall: number[]; cpu: number[]; rss: number[] }>;

/**
 * Rows for one receive case: storescp vs storescp-ts by the sender's wall
 * time (and the receivers' peak RSS when measured), the receivers' CPU,
 * and BENCH_BASE's storescp-ts beside ours.
 */
function receiveRows(label: string, n: number, t: Times, key: (kind: string) => string): void {
  const m = (kind: string, what: "wall" | "cpu" | "rss") => median(t[key(kind)]![what]);
  const rss = (kind: string) => (t[key(kind)]!.rss.length ? m(kind, "rss").toFixed(0) : "");
  const ratio = (what: "wall" | "cpu", kind: string) =>
    `${(m(kind, what) / m("dcmtk", what)).toFixed(2)}×`;
  const s = (kind: string, what: "wall" | "cpu") => m(kind, what).toFixed(2);
  const lines = [
    [
      label,
      n,
      s("dcmtk", "wall"),
      s("ours", "wall"),
      rss("dcmtk"),
      rss("ours"),
      ratio("wall", "ours"),
    ],
    [
      "  receiver CPU s: storescp | storescp-ts",
      n,
      s("dcmtk", "cpu"),
      s("ours", "cpu"),
      "",
      "",
      ratio("cpu", "ours"),
    ],
  ];
  if (BASE)
    lines.push([
      "  BENCH_BASE storescp-ts: wall s | CPU s",
      n,
      s("base", "wall"),
      s("base", "cpu"),
      "",
      rss("base"),
      `${ratio("wall", "base")} | ${ratio("cpu", "base")}`,
    ]);
  for (const l of lines) {
    out.push(row(l, W));
    console.log(out.at(-1));
  }
}

/** Cold (first association after start) and warm (the next one) receive times, each way. */
async function coldWarmCase(
  label: string,
  first: string,
  second: string,
  n: number,
): Promise<void> {
  const t: Times = {};
  for (const kind of RECEIVERS)
    for (const phase of ["cold", "warm"]) t[`${kind}-${phase}`] = { wall: [], cpu: [], rss: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const kind of RECEIVERS) {
      const srv = await startServer(kind);
      const c0 = await cpuSeconds(srv.proc.pid!);
      const cold = await dcmtkSend(srv.port, first);
      const c1 = await cpuSeconds(srv.proc.pid!);
      const warm = await dcmtkSend(srv.port, second);
      const c2 = await cpuSeconds(srv.proc.pid!);
      if (cold.code !== 0 || warm.code !== 0) throw new Error("storescu failed");
      t[`${kind}-cold`]!.wall.push(cold.wall);
      t[`${kind}-cold`]!.cpu.push(c1 - c0);
      t[`${kind}-warm`]!.wall.push(warm.wall);
      t[`${kind}-warm`]!.cpu.push(c2 - c1);
      await stop(srv);
    }
  }
  for (const phase of ["cold", "warm"])
    receiveRows(
      `receive ${label}, ${phase}: storescp | storescp-ts`,
      n,
      t,
      (kind) => `${kind}-${phase}`,
    );
}

function oursSend(port: number, dir: string, jobs = 1, bin = binPath("storescu-ts")) {
  return timed(process.execPath, [
    bin,
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
  const t: Times = Object.fromEntries(RECEIVERS.map((k) => [k, { wall: [], cpu: [], rss: [] }]));
  for (let i = 0; i < RUNS; i++) {
    for (const kind of RECEIVERS) {
      const srv = await startServer(kind);
      const c0 = await cpuSeconds(srv.proc.pid!);
      const r = await dcmtkSend(srv.port, dir);
      if (r.code !== 0) throw new Error(`storescu exited ${r.code}`);
      t[kind]!.cpu.push((await cpuSeconds(srv.proc.pid!)) - c0);
      t[kind]!.wall.push(r.wall);
      t[kind]!.rss.push(await stop(srv));
    }
  }
  receiveRows(`receive ${label}: storescu → storescp | storescp-ts`, n, t, (kind) => kind);
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

/** `patients` × 100 CT instances of 512 × 512 × 16 bits in one flat folder. */
function ctArchive(folder: string, seed: string, patients: number) {
  return generateArchive({
    out: join(work, folder),
    patients,
    seed,
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 100,
    rows: 512,
    cols: 512,
    bits: 16,
    layout: "flat",
  });
}

/** Cold and warm: the first association after the receiver starts, then the next one. */
async function coldWarm(): Promise<void> {
  const firstHalf = await ctArchive("bench-cold", "bench-cold", 5);
  const secondHalf = await ctArchive("bench-warm", "bench-warm", 5);
  await coldWarmCase("500 × 530 KB", firstHalf.out, secondHalf.out, firstHalf.instances);
  await rm(firstHalf.out, { recursive: true, force: true });
  await rm(secondHalf.out, { recursive: true, force: true });
}

/** storescu-ts -j 4 vs -j 1, and DCMTK's 4 storescu processes vs 1, into a forking storescp. */
async function parallelRows(small: { out: string; instances: number }): Promise<void> {
  const files = (await readdir(small.out))
    .filter((f) => !f.startsWith("."))
    .map((f) => join(small.out, f));
  const baseBin = BASE ? binPath("storescu-ts", BASE) : undefined;
  const cases = ["d1", "d4", "j1", "j4", ...(baseBin ? ["b1", "b4"] : [])];
  const par: Record<string, Sample[]> = Object.fromEntries(cases.map((c) => [c, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const c of cases) {
      const srv = await startServer("dcmtk-fork");
      const jobs = c.endsWith("1") ? 1 : 4;
      const r = c.startsWith("d")
        ? await dcmtkSendParallel(srv.port, files, jobs)
        : await oursSend(srv.port, small.out, jobs, c.startsWith("b") ? baseBin : undefined);
      if (r.code !== 0) throw new Error(`${c} exited ${r.code}`);
      par[c]!.push(r);
      await stop(srv);
    }
  }
  const wall = (c: string) => median(par[c]!.map((x) => x.wall));
  /** CPU milliseconds per file (user + system). */
  const cpuPerFile = (c: string) =>
    ((median(par[c]!.map((x) => x.cpu ?? NaN)) * 1000) / small.instances).toFixed(2);
  const speedup = (label: string, one: string, four: string) => {
    out.push(
      row(
        [
          label,
          small.instances,
          wall(one).toFixed(2),
          wall(four).toFixed(2),
          "",
          "",
          `${(wall(one) / wall(four)).toFixed(2)}× faster`,
        ],
        W,
      ),
    );
    console.log(out.at(-1));
  };
  speedup("DCMTK storescu ×1 | ×4 processes → storescp --fork", "d1", "d4");
  speedup("storescu-ts -j 1 | -j 4 → storescp --fork", "j1", "j4");
  if (baseBin) speedup("BENCH_BASE storescu-ts -j 1 | -j 4 → storescp --fork", "b1", "b4");
  out.push(
    row(
      [
        `CPU ms per file ×1: storescu | storescu-ts${baseBin ? " (BENCH_BASE)" : ""}`,
        small.instances,
        cpuPerFile("d1"),
        `${cpuPerFile("j1")}${baseBin ? ` (${cpuPerFile("b1")})` : ""}`,
        "",
        "",
        "",
      ],
      W,
    ),
  );
  console.log(out.at(-1));
  out.push(
    row(
      [
        `CPU ms per file ×4: storescu | storescu-ts${baseBin ? " (BENCH_BASE)" : ""}`,
        small.instances,
        cpuPerFile("d4"),
        `${cpuPerFile("j4")}${baseBin ? ` (${cpuPerFile("b4")})` : ""}`,
        "",
        "",
        "",
      ],
      W,
    ),
  );
  console.log(out.at(-1));
}

const W = [56, 7, 9, 9, 9, 9, 8];
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();
try {
  console.log(
    `runs: ${RUNS} (median); wall = the sender's; RSS = receiver's peak for "receive" rows, sender's for "send" rows; ${uptime()}`,
  );
  out.push(row(["case", "files", "DCMTK s", "ours s", "DCMTK MB", "ours MB", "ratio"], W));
  const small = await ctArchive("k1000", "bench-storage", 10);
  console.log(
    `generated ${small.instances} instances of ${(small.bytes / small.instances / 1024).toFixed(0)} KB`,
  );
  if (!PARALLEL_ONLY) {
    await receiveCase("1000 × 530 KB", small.out, small.instances);
    if (!RECEIVE_ONLY) await sendCase("1000 × 530 KB", small.out, small.instances);
    await coldWarm();
  }
  if (!RECEIVE_ONLY) await parallelRows(small);
  await rm(small.out, { recursive: true, force: true });
  if (!process.env.BENCH_SKIP_BIG && !PARALLEL_ONLY && !RECEIVE_ONLY) {
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
  }
  console.log(`\n${out.join("\n")}\n${uptime()}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
