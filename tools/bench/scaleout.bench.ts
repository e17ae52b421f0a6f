/**
 * What bounds a retrieval: the client or the archive? Series-level C-MOVEs
 * of the same instances from dcmqrscp and Orthanc with movescu-ts -j 1, 2,
 * 4 and 8, against the floor of the same bytes pushed by DCMTK storescu
 * into storescp (no archive lookup at all). Prints instances/s and MB/s.
 * Everything runs on this machine: the archive, the client and the
 * receiver share its cores, which flattens the -j curve further.
 */
import { mkdtemp, rm, mkdir, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import {
  freePort,
  hasDcmtk,
  hasOrthanc,
  startDcmqrscp,
  startOrthanc,
  startStorescp,
} from "@dicom-pipes/test-support/peers";
import { binPath, runBin } from "@dicom-pipes/test-support/bins";
import { median, row, timed } from "./common.js";

if (!hasDcmtk() || !hasOrthanc()) {
  console.log("scaleout bench needs DCMTK and Orthanc (apt-get install dcmtk orthanc)");
  process.exit(0);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const JOBS = [1, 2, 4, 8];
const work = await mkdtemp(join(tmpdir(), "bench-scale-"));
const W = [44, 9, 12, 9];
const out: string[] = [row(["case", "wall s", "instances/s", "MB/s"], W)];

async function count(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter(
    (e) => e.isFile() && !e.name.startsWith("."),
  ).length;
}

try {
  const a = await generateArchive({
    out: join(work, "archive"),
    patients: 20,
    seed: "bench-scale",
    studiesPerPatient: 2,
    seriesPerStudy: 2,
    instancesPerSeries: 10,
    rows: 128,
    cols: 128,
  });
  const mb = a.bytes / 1e6;
  console.log(`archive: ${a.series} series, ${a.instances} instances, ${mb.toFixed(1)} MB`);
  const line = (name: string, wall: number) =>
    out.push(
      row([name, wall.toFixed(2), (a.instances / wall).toFixed(0), (mb / wall).toFixed(1)], W),
    );

  // Floor: storescu → storescp, the same files, one association.
  const floor: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const scp = await startStorescp({ args: ["+xa"] });
    floor.push(
      (await timed("storescu", ["-aec", "ANY", "+sd", "+r", "127.0.0.1", String(scp.port), a.out]))
        .wall,
    );
    await scp.stop();
  }
  line("floor: DCMTK storescu → storescp (1 assoc.)", median(floor));

  const destPort = await freePort();
  const peers = [
    {
      name: "dcmqrscp",
      start: () =>
        startDcmqrscp({
          files: [a.out],
          hostTable: [{ name: "dest", aet: "DEST", port: destPort }],
          maxAssociations: 16,
        }),
    },
    {
      name: "Orthanc",
      start: () =>
        startOrthanc({ files: [a.out], modalities: { dest: { aet: "DEST", port: destPort } } }),
    },
  ];
  for (const p of peers) {
    const peer = await p.start();
    const found = await runBin("findscu-ts", [
      "-S",
      "-sr",
      "-aec",
      peer.aet,
      "-k",
      "QueryRetrieveLevel=SERIES",
      "-k",
      "StudyInstanceUID",
      "-k",
      "SeriesInstanceUID",
      "127.0.0.1",
      String(peer.port),
    ]);
    const input = join(work, `${p.name}-series.ndjson`);
    await writeFile(input, found.stdout);
    for (const jobs of JOBS) {
      const walls: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const d = join(work, `${p.name}-j${jobs}-${r}`);
        await mkdir(d);
        const t = await timed(process.execPath, [
          binPath("movescu-ts"),
          "-S",
          "-aec",
          peer.aet,
          "-aem",
          "DEST",
          "+P",
          String(destPort),
          "-od",
          d,
          "-j",
          String(jobs),
          "--input",
          input,
          "--no-output",
          "127.0.0.1",
          String(peer.port),
        ]);
        walls.push(t.wall);
        const n = await count(d);
        if (n !== a.instances)
          console.log(`warning: ${p.name} -j ${jobs} received ${n} of ${a.instances}`);
        await rm(d, { recursive: true, force: true });
      }
      line(`${p.name}: movescu-ts -j ${jobs} (series C-MOVEs)`, median(walls));
    }
    await peer.stop();
  }
  console.log(`\n${out.join("\n")}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
