/**
 * inst-count and weekday-plot on 1 000 000 study-level records (NDJSON as
 * findscu-ts writes it), written to a temporary file first. Prints
 * inst-count's throughput and peak RSS at 100 000 and 1 000 000 records
 * (memory should stay flat), and weekday-plot's end-to-end time.
 * Goals (issue 5): inst-count >= 500 000 records/s, weekday-plot <= 5 s.
 * At 1 000 000 records, inst-count side by side (round robin) with what a
 * user would write instead: a 9-line Python json.loads loop counting
 * distinct studies per institution, and `jq | sort | uniq -c`
 * (goal: inst-count >= 2.5x the Python loop).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, node, row, timed, type Sample } from "./common.js";

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

async function medianOf(runs: number, f: () => Promise<Sample>): Promise<Sample> {
  const xs: Sample[] = [];
  for (let i = 0; i < runs; i++) xs.push(await f());
  for (const s of xs) if (s.code !== 0) throw new Error(`a benchmarked command exited ${s.code}`);
  return { wall: median(xs.map((s) => s.wall)), rssMb: median(xs.map((s) => s.rssMb)), code: 0 };
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

/** inst-count, the Python loop and jq on one file, round robin; medians of wall and CPU. */
async function versusScripts(file: string, n: number): Promise<void> {
  const [nodeBin, instCount] = node("inst-count");
  const script = join(work, "count.py");
  writeFileSync(script, PYTHON_COUNT);
  const cases: Array<[string, () => Promise<Sample>]> = [
    [
      "inst-count --timeframe all",
      () => timed(nodeBin, [...instCount, "--timeframe", "all", file]),
    ],
    ["python3 json.loads loop (9 lines)", () => timed("python3", [script, file])],
    [
      "jq -r .InstitutionName | sort | uniq -c",
      () => timed("sh", ["-c", `jq -r .InstitutionName "$1" | sort | uniq -c`, "sh", file]),
    ],
  ];
  const got = new Map<string, Sample[]>(cases.map(([l]) => [l, []]));
  for (let i = 0; i < RUNS; i++)
    for (const [label, run] of cases) {
      const s = await run();
      if (s.code !== 0) throw new Error(`${label} exited ${s.code}`);
      got.get(label)!.push(s);
    }
  const W = [44, 10, 8, 8, 9, 14, 14];
  console.log(`\n${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
  console.log(
    row(["command", "records", "wall s", "CPU s", "RSS MB", "wall ÷ Python", "CPU ÷ Python"], W),
  );
  const py = got.get(cases[1]![0])!;
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
          `${(wall / pyWall).toFixed(2)}×`,
          `${(cpu / pyCpu).toFixed(2)}×`,
        ],
        W,
      ),
    );
  }
}

try {
  const [nodeBin, instCount] = node("inst-count");
  const [, weekdayPlot] = node("weekday-plot");
  const W = [44, 10, 8, 14, 9];
  console.log(`runs per command: ${RUNS} (median of wall time and peak RSS, GNU time)`);
  console.log(row(["command", "records", "wall s", "records/s", "RSS MB"], W));
  for (const n of [100_000, 1_000_000]) {
    const file = join(work, `studies-${n}.ndjson`);
    await writeStudies(file, n);
    const s = await medianOf(RUNS, () =>
      timed(nodeBin, [...instCount, "--timeframe", "all", file]),
    );
    console.log(
      row(
        [
          `inst-count --timeframe all`,
          n,
          s.wall.toFixed(2),
          Math.round(n / s.wall),
          s.rssMb.toFixed(0),
        ],
        W,
      ),
    );
    const p = await medianOf(RUNS, () =>
      timed(nodeBin, [...instCount, "--per", "record", "--timeframe", "all", file]),
    );
    console.log(
      row(
        [
          `inst-count --per record --timeframe all`,
          n,
          p.wall.toFixed(2),
          Math.round(n / p.wall),
          p.rssMb.toFixed(0),
        ],
        W,
      ),
    );
    if (n === 1_000_000) {
      await versusScripts(file, n);
      const out = join(work, "plots");
      const w = await medianOf(RUNS, () =>
        timed(nodeBin, [
          ...weekdayPlot,
          "--timeframe",
          "all",
          "-o",
          out,
          "--top10-output",
          join(out, "top10.csv"),
          file,
        ]),
      );
      console.log(
        row(
          [
            `weekday-plot --timeframe all (7 PNG + overview)`,
            n,
            w.wall.toFixed(2),
            Math.round(n / w.wall),
            w.rssMb.toFixed(0),
          ],
          W,
        ),
      );
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
