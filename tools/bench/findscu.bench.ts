/**
 * findscu-ts vs DCMTK findscu, side by side in one run (TCP_NODELAY=1 for
 * DCMTK): IMAGE-level C-FIND with 2 000 matches from dcmqrscp and 50 000
 * matches from Orthanc (dcmqrscp's index file is capped at 32 MiB, about
 * 4 000 instances per storage area, so it cannot hold 50 000), plus a
 * client-only scenario against a minimal SCP that answers as fast as it can.
 * Wall time and peak RSS are medians of several alternating runs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { Dataset, Tags } from "@dicom-pipes/dimse/dicom";
import {
  runDcmtk,
  startDcmqrscp,
  startOrthanc,
  hasDcmtk,
  hasOrthanc,
} from "@dicom-pipes/test-support/peers";
import { scriptedScp } from "../../packages/findscu-ts/test/scripted.js";
import { node, row, sideBySide, timed } from "./common.js";

if (!hasDcmtk() || !hasOrthanc()) {
  console.log("findscu bench needs DCMTK and Orthanc (apt-get install dcmtk orthanc)");
  process.exit(0);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const work = await mkdtemp(join(tmpdir(), "bench-findscu-"));
const W = [34, 9, 10, 10, 10, 10, 8];
const results: string[] = [
  row(["scenario", "matches", "findscu s", "ours s", "findscu MB", "ours MB", "ratio"], W),
];

async function compare(label: string, matches: number, args: string[]): Promise<void> {
  const [nodeBin, ours] = node("findscu-ts");
  const r = await sideBySide(
    RUNS,
    () => timed("findscu", args),
    () => timed(nodeBin, [...ours, ...args]),
  );
  results.push(
    row(
      [
        label,
        matches,
        r.a.wall.toFixed(2),
        r.b.wall.toFixed(2),
        r.a.rssMb.toFixed(0),
        r.b.rssMb.toFixed(0),
        `${(r.b.wall / r.a.wall).toFixed(2)}×`,
      ],
      W,
    ),
  );
  console.log(results.at(-1));
}

async function countMatches(port: number, aet: string, args: string[]): Promise<number> {
  const r = await runDcmtk("findscu", ["-S", "-aec", aet, "127.0.0.1", String(port), ...args]);
  return (r.stderr.match(/Find Response: \d+ \(Pending\)/g) ?? []).length;
}

const imageKeys = [
  "-k",
  "QueryRetrieveLevel=IMAGE",
  "-k",
  "SeriesInstanceUID",
  "-k",
  "SOPInstanceUID",
  "-k",
  "InstanceNumber",
  "-k",
  "SOPClassUID",
];

try {
  console.log(
    `runs per command: ${RUNS} (median); both tools print the response dump to stderr and their output is discarded`,
  );
  // 2 000 matches from dcmqrscp.
  const a2k = await generateArchive({
    out: join(work, "a2k"),
    patients: 1,
    seed: "bench-2k",
    studiesPerPatient: 1,
    seriesPerStudy: 4,
    instancesPerSeries: 500,
    rows: 8,
    cols: 8,
  });
  let t = Date.now();
  const qr = await startDcmqrscp({ files: [a2k.out] });
  console.log(
    `dcmqrscp loaded ${a2k.instances} instances in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const study2k = ["-k", `StudyInstanceUID=${await studyUid(qr.port, qr.aet)}`];
  const n2k = await countMatches(qr.port, qr.aet, [...imageKeys, ...study2k]);
  await compare("dcmqrscp IMAGE", n2k, [
    "-S",
    "-aec",
    qr.aet,
    "127.0.0.1",
    String(qr.port),
    ...imageKeys,
    ...study2k,
  ]);
  await qr.stop();

  // 50 000 matches from Orthanc.
  const a50k = await generateArchive({
    out: join(work, "a50k"),
    patients: 1,
    seed: "bench-50k",
    studiesPerPatient: 1,
    seriesPerStudy: 10,
    instancesPerSeries: 5000,
    rows: 8,
    cols: 8,
  });
  t = Date.now();
  const orthanc = await startOrthanc({ config: { LimitFindInstances: 0, LimitFindResults: 0 } });
  const load = await runDcmtk(
    "storescu",
    ["-aec", orthanc.aet, "+sd", "+r", "127.0.0.1", String(orthanc.port), a50k.out],
    { timeoutMs: 3600_000 },
  );
  if (load.code !== 0) throw new Error(`loading Orthanc failed: ${load.stderr.slice(-500)}`);
  console.log(
    `Orthanc loaded ${a50k.instances} instances in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const study50k = ["-k", `StudyInstanceUID=${await studyUid(orthanc.port, orthanc.aet)}`];
  const n50k = await countMatches(orthanc.port, orthanc.aet, [...imageKeys, ...study50k]);
  await compare("Orthanc IMAGE", n50k, [
    "-S",
    "-aec",
    orthanc.aet,
    "127.0.0.1",
    String(orthanc.port),
    ...imageKeys,
    ...study50k,
  ]);
  await orthanc.stop();

  // Client cost alone: a minimal SCP (in this process) answering from memory.
  for (const n of [2000, 50000, 200000]) {
    const scp = await scriptedScp({
      async onFind(c) {
        for (let i = 1; i <= n; i++) {
          const ds = new Dataset();
          ds.setString(Tags.QueryRetrieveLevel, "CS", "IMAGE");
          ds.setString(Tags.SeriesInstanceUID, "UI", "1.2.826.0.1.3680043.8.498.1.2");
          ds.setString(Tags.SOPInstanceUID, "UI", `1.2.826.0.1.3680043.8.498.1.2.${i}`);
          ds.setString(Tags.InstanceNumber, "IS", String(i));
          ds.setString(Tags.SOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.2");
          await c.pending(ds);
        }
        await c.final(0);
      },
    });
    await compare("minimal in-process SCP", n, [
      "-S",
      "-aec",
      "ANY",
      "127.0.0.1",
      String(scp.port),
      ...imageKeys,
    ]);
    await scp.close();
  }
  console.log(`\n${results.join("\n")}`);
} finally {
  await rm(work, { recursive: true, force: true });
}

async function studyUid(port: number, aet: string): Promise<string> {
  const r = await runDcmtk("findscu", [
    "-S",
    "-aec",
    aet,
    "127.0.0.1",
    String(port),
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
  ]);
  const m = /\(0020,000d\) UI \[([^\]]*)\]/.exec(r.stderr);
  if (!m) throw new Error(`no study found: ${r.stderr.slice(0, 300)}`);
  return m[1]!.replace(/[\0 ]+$/, "");
}
