/**
 * dcmdir index against the seeds' stack (a pydicom walk with
 * dcmread(stop_before_pixels=True), as ditag's index reads files) on the
 * same gen-archive trees, alternately, with peak RSS at 5 000 and 20 000
 * files (it should stay flat); then dcmdir query over an index of
 * 1 000 000 instances whose rows are synthesised directly (building a
 * million files would take longer than the benchmark is worth).
 * Goals (issue 11): index ≤ 0.3 × pydicom's wall time; a query < 1 s.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { openIndex } from "../../packages/dcmdir/src/archive.js";
import { SERIES_COLUMNS, INSTANCE_COLUMNS } from "../../packages/dcmdir/src/columns.js";
import { median, node, row, timed, type Sample } from "./common.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = await mkdtemp(join(tmpdir(), "bench-dcmdir-"));
const PYTHON = "/usr/bin/python3";
const PYDICOM_WALK = `
import os, sys, pydicom
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        try:
            ds = pydicom.dcmread(os.path.join(d, f), stop_before_pixels=True)
        except Exception:
            continue
        (ds.get("SOPInstanceUID"), ds.get("SeriesInstanceUID"), ds.get("StudyInstanceUID"), ds.get("StudyDate"),
         ds.get("PatientName"), ds.get("PatientID"), ds.get("StudyDescription"), ds.get("SeriesDescription"))
        n += 1
print(n)
`;

async function medianOf(runs: number, f: (i: number) => Promise<Sample>): Promise<Sample> {
  const xs: Sample[] = [];
  for (let i = 0; i < runs; i++) xs.push(await f(i));
  for (const s of xs) if (s.code !== 0) throw new Error(`a benchmarked command exited ${s.code}`);
  return {
    wall: median(xs.map((s) => s.wall)),
    rssMb: median(xs.map((s) => s.rssMb)),
    cpu: median(xs.map((s) => s.cpu ?? NaN)),
    code: 0,
  };
}

/** Rows for `instances` instances, 20 per series, 4 series per study, over two years; deterministic. */
function synthesiseIndex(path: string, instances: number): void {
  const db = openIndex(path);
  const descriptions = [
    "t1_mprage_sag",
    "t2_tse_tra",
    "AX FLAIR",
    "DWI b1000",
    "localizer",
    "Head 5.0 H30s",
    "PA",
    "LAT",
    "PET WB AC",
    "sag FLAIR 3D",
  ];
  const sCols = ["SeriesInstanceUID", ...SERIES_COLUMNS.map(([n]) => n)];
  const iCols = ["path", "size", "mtime", "seen", ...INSTANCE_COLUMNS.map(([n]) => n)];
  const putSeries = db.prepare(
    `INSERT INTO series (${sCols.join(",")}) VALUES (${sCols.map(() => "?").join(",")})`,
  );
  const putInstance = db.prepare(
    `INSERT INTO instances (${iCols.join(",")}) VALUES (${iCols.map(() => "?").join(",")})`,
  );
  const start = Date.UTC(2023, 0, 1);
  db.transaction(() => {
    for (let s = 0; s * 20 < instances; s++) {
      const study = Math.floor(s / 4);
      const date = new Date(start + ((study * 7919) % 730) * 86_400_000)
        .toISOString()
        .slice(0, 10)
        .replace(/-/g, "");
      const series = `2.25.${1000000 + s}`;
      const values: Record<string, unknown> = {
        SeriesInstanceUID: series,
        PatientID: `P${study % 50000}`,
        PatientName: `Doe^${study % 50000}`,
        StudyInstanceUID: `2.25.${study}`,
        StudyDate: date,
        StudyTime: "101500",
        StudyDescription: "MR HEAD",
        AccessionNumber: `A${study}`,
        StudyID: String(study),
        Modality: "MR",
        SeriesNumber: (s % 4) + 1,
        SeriesDescription: descriptions[s % descriptions.length],
        InstitutionName: s % 7 ? "Riverside Medical Center" : null,
      };
      putSeries.run(...sCols.map((c) => values[c] ?? null));
      for (let i = 0; i < 20; i++) {
        const inst: Record<string, unknown> = {
          path: `/archive/${study}/${s}/${i}.dcm`,
          size: 500000,
          mtime: 0,
          seen: 1,
          SOPInstanceUID: `${series}.${i}`,
          SOPClassUID: "1.2.840.10008.5.1.4.1.1.4",
          TransferSyntaxUID: "1.2.840.10008.1.2.1",
          SeriesInstanceUID: series,
          InstanceNumber: i + 1,
        };
        putInstance.run(...iCols.map((c) => inst[c] ?? null));
      }
    }
  })();
  db.close();
}

try {
  const [nodeBin, dcmdir] = node("dcmdir");
  const W = [58, 8, 8, 8, 8];
  console.log(
    `runs per command: ${RUNS} (median of wall time, CPU time and peak RSS, GNU time); pydicom ${PYTHON}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`,
  );
  console.log(row(["command", "files", "wall s", "CPU s", "RSS MB"], W));
  for (const n of [5_000, 20_000]) {
    const tree = join(work, `tree-${n}`);
    await generateArchive({
      out: tree,
      patients: Math.ceil(n / 20),
      instancesPerSeries: [5, 20],
      maxInstances: n,
      seed: "bench",
    });
    let k = 0;
    const ours = await medianOf(RUNS, () =>
      timed(nodeBin, [...dcmdir, "index", "--db", join(work, `i-${n}-${k++}.db`), tree]),
    );
    const seed =
      n === 5_000
        ? await medianOf(RUNS, () => timed(PYTHON, ["-c", PYDICOM_WALK, tree]))
        : undefined;
    console.log(
      row(
        [
          `dcmdir index (fresh database)`,
          n,
          ours.wall.toFixed(2),
          ours.cpu!.toFixed(2),
          ours.rssMb.toFixed(0),
        ],
        W,
      ),
    );
    if (seed) {
      console.log(
        row(
          [
            `pydicom dcmread(stop_before_pixels=True) walk`,
            n,
            seed.wall.toFixed(2),
            seed.cpu!.toFixed(2),
            seed.rssMb.toFixed(0),
          ],
          W,
        ),
      );
      console.log(
        `  ratio dcmdir/pydicom: wall ${(ours.wall / seed.wall).toFixed(2)}, CPU ${(ours.cpu! / seed.cpu!).toFixed(2)} (goal ≤ 0.3)`,
      );
    }
    const again = await medianOf(RUNS, () =>
      timed(nodeBin, [...dcmdir, "index", "--db", join(work, `i-${n}-0.db`), tree]),
    );
    console.log(
      row(
        [
          `dcmdir index (again, nothing changed)`,
          n,
          again.wall.toFixed(2),
          again.cpu!.toFixed(2),
          again.rssMb.toFixed(0),
        ],
        W,
      ),
    );
    await rm(tree, { recursive: true, force: true });
  }

  const db = join(work, "million.db");
  const t0 = Date.now();
  synthesiseIndex(db, 1_000_000);
  console.log(
    `\nsynthetic index: 1 000 000 instances, 50 000 series, 12 500 studies (rows inserted directly, ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const Q = [92, 8, 8, 8];
  console.log(row(["query", "wall s", "CPU s", "RSS MB"], Q));
  const queries: Array<[string, string[]]> = [
    [
      "one year, SeriesDescription ~ FLAIR (series)",
      [
        "--sdate",
        "20240101",
        "--edate",
        "20241231",
        "--targets",
        "SeriesDescription",
        "--pattern",
        "FLAIR",
      ],
    ],
    [
      "one year, FLAIR, --files (one record per instance)",
      [
        "--sdate",
        "20240101",
        "--edate",
        "20241231",
        "--targets",
        "SeriesDescription",
        "--pattern",
        "FLAIR",
        "--files",
      ],
    ],
    ["one day (series)", ["--date", "20240131"]],
    ["everything, one record per series", []],
    ["everything, --level study", ["--level", "study"]],
    [
      "InstitutionName ~ Riverside (missing in 1/7), -o file",
      ["--targets", "InstitutionName", "--pattern", "Riverside", "-o", join(work, "out.ndjson")],
    ],
  ];
  for (const [label, args] of queries) {
    const s = await medianOf(RUNS, () => timed(nodeBin, [...dcmdir, "query", "--db", db, ...args]));
    console.log(row([label, s.wall.toFixed(2), s.cpu!.toFixed(2), s.rssMb.toFixed(0)], Q));
  }
  const bare = await medianOf(RUNS, () => timed(nodeBin, ["-e", "0"]));
  console.log(
    row(
      [
        "(node -e 0: start-up alone)",
        bare.wall.toFixed(2),
        bare.cpu!.toFixed(2),
        bare.rssMb.toFixed(0),
      ],
      Q,
    ),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
