/**
 * Start-up: N runs (round robin, so every command sees the same load) of
 * `node -e 0`, DCMTK `findscu --help`, every bin's `--help`, and an
 * IMAGE-level C-FIND with ~400 matches from dcmqrscp by DCMTK findscu and
 * by findscu-ts (TCP_NODELAY=1 for DCMTK). Wall time: median, from the
 * clock; CPU (user + sys): mean of GNU time's 10 ms ticks. Ratios against
 * `node -e 0` for `--help` (goal <= 1.3x) and against findscu for the
 * query (goal <= 2.0x), with stderr (DCMTK's response dump) to /dev/null
 * and to a file. BENCH_BASE=/other/checkout adds that checkout's
 * findscu-ts to the query's round robin (a before/after in one run).
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { binPath, ROOT } from "@dicom-pipes/test-support/bins";
import { hasDcmtk, runDcmtk, startDcmqrscp } from "@dicom-pipes/test-support/peers";
import { median, row, timed, type Sample } from "./common.js";

if (!hasDcmtk()) {
  console.log("startup bench needs DCMTK (apt-get install dcmtk)");
  process.exit(0);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/** The checkout whose bins are measured (BENCH_ROOT=/other/checkout for a before/after). */
const root = process.env.BENCH_ROOT ?? ROOT;
/** A checkout whose findscu-ts is measured beside this one's in the query (BENCH_BASE=/other/checkout). */
const BASE = process.env.BENCH_BASE;
const work = await mkdtemp(join(tmpdir(), "bench-startup-"));

/** Every bin shipped by a package of the checkout `from`: [name, path]. */
function bins(from = root): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const pkg of readdirSync(join(from, "packages")).sort()) {
    let files: string[] = [];
    try {
      files = readdirSync(join(from, "packages", pkg, "bin"));
    } catch {
      continue;
    }
    for (const f of files.filter((f) => f.endsWith(".js")).sort())
      out.push([f.replace(/\.js$/, ""), join(from, "packages", pkg, "bin", f)]);
  }
  return out;
}

interface Case {
  label: string;
  run: () => Promise<Sample>;
}

/** Round robin over the cases, RUNS times; median wall and mean CPU seconds. */
async function measure(cases: Case[]): Promise<Map<string, { wall: number; cpu: number }>> {
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.label, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const c of cases) {
      const s = await c.run();
      if (s.code !== 0) throw new Error(`${c.label} exited ${s.code}`);
      samples.get(c.label)!.push(s);
    }
  }
  const out = new Map<string, { wall: number; cpu: number }>();
  for (const [label, xs] of samples)
    out.set(label, {
      wall: median(xs.map((s) => s.wall)),
      // GNU time counts CPU in 10 ms ticks: their mean resolves what a median of ticks cannot.
      cpu: xs.reduce((sum, s) => sum + (s.cpu ?? 0), 0) / xs.length,
    });
  return out;
}

const load = () => execFileSync("uptime", { encoding: "utf8" }).trim();

const W = [40, 9, 9, 15, 12];

/** One row per command: medians and their ratios to the row `baseLabel` (named `baseName`). */
function printTable(
  results: Map<string, { wall: number; cpu: number }>,
  baseLabel: string,
  baseName: string,
): void {
  const base = results.get(baseLabel)!;
  console.log(row(["command", "wall s", "CPU s", `wall ÷ ${baseName}`, `CPU ÷ ${baseName}`], W));
  for (const [label, s] of results)
    console.log(
      row(
        [
          label,
          s.wall.toFixed(3),
          s.cpu.toFixed(3),
          `${(s.wall / base.wall).toFixed(2)}×`,
          `${(s.cpu / base.cpu).toFixed(2)}×`,
        ],
        W,
      ),
    );
}
try {
  console.log(
    `bins of ${root}; runs per command: ${RUNS} (round robin; wall median, CPU mean); ${load()}`,
  );
  const helpCases: Case[] = [
    { label: "node -e 0", run: () => timed(process.execPath, ["-e", "0"]) },
    { label: "DCMTK findscu --help", run: () => timed("findscu", ["--help"]) },
    ...bins().map(([name, path]) => ({
      label: `${name} --help`,
      run: () => timed(process.execPath, [path, "--help"]),
    })),
  ];
  printTable(await measure(helpCases), "node -e 0", "node");

  // ~400 matches at IMAGE level from dcmqrscp.
  const archive = await generateArchive({
    out: join(work, "a400"),
    patients: 1,
    seed: "bench-startup",
    studiesPerPatient: 1,
    seriesPerStudy: 4,
    instancesPerSeries: 100,
    rows: 8,
    cols: 8,
  });
  const qr = await startDcmqrscp({ files: [archive.out] });
  try {
    const peer = ["-S", "-aec", qr.aet, "127.0.0.1", String(qr.port)];
    const keys = [
      "-k",
      "QueryRetrieveLevel=IMAGE",
      "-k",
      "StudyInstanceUID",
      "-k",
      "SeriesInstanceUID",
      "-k",
      "SOPInstanceUID",
      "-k",
      "InstanceNumber",
    ];
    const check = await runDcmtk("findscu", [...peer, ...keys]);
    const matches = (check.stderr.match(/Find Response: \d+ \(Pending\)/g) ?? []).length;
    // stderr (the response dump) to /dev/null, and to a file: findscu-ts does not format
    // the dump for /dev/null, DCMTK findscu does.
    const dump = join(work, "dump.txt");
    const ours = (label: string, from: string, stderr?: string): Case => ({
      label,
      run: () =>
        timed(process.execPath, [binPath("findscu-ts", from), ...peer, ...keys], { stderr }),
    });
    const q = await measure([
      { label: "DCMTK findscu", run: () => timed("findscu", [...peer, ...keys]) },
      ours("findscu-ts", root),
      ...(BASE ? [ours("findscu-ts (BENCH_BASE)", BASE)] : []),
      {
        label: "DCMTK findscu, dump to a file",
        run: () => timed("findscu", [...peer, ...keys], { stderr: dump }),
      },
      ours("findscu-ts, dump to a file", root, dump),
      ...(BASE ? [ours("findscu-ts (BENCH_BASE), dump to a file", BASE, dump)] : []),
    ]);
    console.log(`\nIMAGE-level C-FIND, ${matches} matches from dcmqrscp (NDJSON to /dev/null)`);
    if (BASE) console.log(`BENCH_BASE: ${BASE}`);
    // Each row against DCMTK findscu with its stderr going to the same place.
    const toFile = (label: string) => label.endsWith(", dump to a file");
    printTable(new Map([...q].filter(([l]) => !toFile(l))), "DCMTK findscu", "findscu");
    console.log("");
    printTable(
      new Map([...q].filter(([l]) => toFile(l))),
      "DCMTK findscu, dump to a file",
      "findscu",
    );
  } finally {
    await qr.stop();
  }
  console.log(`\n${load()}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
