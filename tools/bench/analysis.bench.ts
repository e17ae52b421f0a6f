/**
 * inst-count and weekday-plot on 100 000 and 1 000 000 study-level records
 * (NDJSON as findscu-ts writes it), written to a temporary file first,
 * side by side (round robin, medians of wall time, CPU time and peak RSS)
 * with what a user would write instead: a 9-line Python json.loads loop
 * counting distinct studies per institution, and `jq | sort | uniq -c`.
 * Each row gives its ratio to the Python loop, wall and CPU (goal:
 * inst-count's wall <= 0.4x the Python loop's), and RSS (memory should not
 * grow with the input). BENCH_BASE=/other/checkout adds that checkout's
 * inst-count and weekday-plot to the same rounds (before/after in one run).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binPath, ROOT } from "@dicom-pipes/test-support/bins";
import { median, row, timed, type Sample } from "./common.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = await mkdtemp(join(tmpdir(), "bench-analysis-"));
const INSTITUTIONS = [
  "Riverside Medical Center",
  "Lakeside Imaging Center",
  "St. Mary's General Hospital",
  "Hôpital Sainte-Élise",
  "Kantonsspital Seeland",
  "Northgate Community Hospital",
  "Universitätsklinikum Nordheide",
  "Mercy Children's Hospital",
];

/** n study records over two years, busier on weekdays 8-17 h; deterministic. */
async function writeStudies(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const start = Date.UTC(2023, 0, 1);
  let buf = "";
  for (let i = 0; i < n; i++) {
    const d = new Date(start + Math.floor(rand() * 730) * 86_400_000);
    const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
    const hour =
      rand() < (weekend ? 0.3 : 0.8) ? 8 + Math.floor(rand() * 10) : Math.floor(rand() * 24);
    const date = d.toISOString().slice(0, 10).replace(/-/g, "");
    const time = `${String(hour).padStart(2, "0")}${String(Math.floor(rand() * 60)).padStart(2, "0")}00`;
    const inst = INSTITUTIONS[Math.floor(rand() * rand() * INSTITUTIONS.length)]!;
    buf += `{"StudyDate":"${date}","StudyTime":"${time}","QueryRetrieveLevel":"STUDY","InstitutionName":${JSON.stringify(inst)},"StudyInstanceUID":"1.2.826.0.1.3680043.8.498.${1000000 + i}.${i % 97}"}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, "drain");
      buf = "";
    }
  }
  out.end(buf);
  await once(out, "finish");
}

/** The Python a user would write instead of inst-count (distinct studies per institution). */
const PYTHON_COUNT = `import json, sys, collections
counts, seen = collections.Counter(), set()
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    uid = r.get("StudyInstanceUID")
    if uid in seen: continue
    seen.add(uid)
    counts[r.get("InstitutionName") or "Unknown"] += 1
for name, n in counts.most_common(): print(f"{name}\\t{n}")
`;

const PYTHON = "python3 json.loads loop (9 lines)";

/** The bins of this checkout, and of BENCH_BASE's when given. */
function checkouts(): Array<[string, string]> {
  const base = process.env.BENCH_BASE;
  return [["", ROOT], ...(base ? [[" (base)", base] as [string, string]] : [])];
}

/** Every command on one file, round robin; a table of medians with ratios to the Python loop. */
async function compare(file: string, n: number): Promise<void> {
  const script = join(work, "count.py");
  writeFileSync(script, PYTHON_COUNT);
  const out = join(work, "plots");
  const cases: Array<[string, () => Promise<Sample>]> = [];
  for (const [tag, root] of checkouts())
    cases.push(
      [
        `inst-count --timeframe all${tag}`,
        () => timed(process.execPath, [binPath("inst-count", root), "--timeframe", "all", file]),
      ],
      [
        `inst-count --per record --timeframe all${tag}`,
        () =>
          timed(process.execPath, [
            binPath("inst-count", root),
            "--per",
            "record",
            "--timeframe",
            "all",
            file,
          ]),
      ],
      [
        `weekday-plot --timeframe all (8 files)${tag}`,
        () =>
          timed(process.execPath, [
            binPath("weekday-plot", root),
            "--timeframe",
            "all",
            "-o",
            out,
            "--top10-output",
            join(out, "top10.csv"),
            file,
          ]),
      ],
    );
  cases.push(
    [PYTHON, () => timed("python3", [script, file])],
    [
      "jq -r .InstitutionName | sort | uniq -c",
      () => timed("sh", ["-c", `jq -r .InstitutionName "$1" | sort | uniq -c`, "sh", file]),
    ],
  );
  const got = new Map<string, Sample[]>(cases.map(([l]) => [l, []]));
  for (let i = 0; i < RUNS; i++)
    for (const [label, run] of cases) {
      const s = await run();
      if (s.code !== 0) throw new Error(`${label} exited ${s.code}`);
      got.get(label)!.push(s);
    }
  const W = [46, 9, 8, 7, 8, 11, 14, 13];
  console.log(`\n${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
  console.log(
    row(
      [
        "command",
        "records",
        "wall s",
        "CPU s",
        "RSS MB",
        "records/s",
        "wall ÷ Python",
        "CPU ÷ Python",
      ],
      W,
    ),
  );
  const py = got.get(PYTHON)!;
  const pyWall = median(py.map((s) => s.wall));
  const pyCpu = median(py.map((s) => s.cpu ?? 0));
  for (const [label, xs] of got) {
    const wall = median(xs.map((s) => s.wall));
    const cpu = median(xs.map((s) => s.cpu ?? 0));
    console.log(
      row(
        [
          label,
          n,
          wall.toFixed(2),
          cpu.toFixed(2),
          median(xs.map((s) => s.rssMb)).toFixed(0),
          Math.round(n / wall),
          `${(wall / pyWall).toFixed(2)}×`,
          `${(cpu / pyCpu).toFixed(2)}×`,
        ],
        W,
      ),
    );
  }
}

try {
  console.log(
    `runs per command: ${RUNS}, round robin (medians of wall time, user+sys CPU and peak RSS, GNU time)`,
  );
  for (const n of [100_000, 1_000_000]) {
    const file = join(work, `studies-${n}.ndjson`);
    await writeStudies(file, n);
    await compare(file, n);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
