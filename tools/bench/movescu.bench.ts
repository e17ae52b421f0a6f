/**
 * movescu-ts vs DCMTK movescu, side by side (TCP_NODELAY=1 for DCMTK):
 * 20 study-level C-MOVEs (about 100 small instances) from dcmqrscp to the
 * retriever itself (+P), DCMTK given the same queries as query files, and
 * the raw C-STORE time of the same instances (storescu → storescp) as the
 * floor. Then movescu-ts -j 4 vs -j 1 against Orthanc.
 */
import { mkdtemp, rm, mkdir, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import {
  freePort,
  hasDcmtk,
  hasOrthanc,
  runDcmtk,
  startDcmqrscp,
  startOrthanc,
  startStorescp,
} from "@dicom-pipes/test-support/peers";
import { binPath, runBin } from "@dicom-pipes/test-support/bins";
import { median, row, timed } from "./common.js";

if (!hasDcmtk() || !hasOrthanc()) {
  console.log("movescu bench needs DCMTK and Orthanc (apt-get install dcmtk orthanc)");
  process.exit(0);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = await mkdtemp(join(tmpdir(), "bench-move-"));
const W = [58, 9, 9, 9, 8];
const out: string[] = [row(["case", "DCMTK s", "ours s", "floor s", "ratio"], W)];

async function count(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter(
    (e) => e.isFile() && !e.name.startsWith("."),
  ).length;
}

try {
  const a = await generateArchive({
    out: join(work, "archive"),
    patients: 10,
    seed: "bench-move",
    studiesPerPatient: 2,
    seriesPerStudy: [1, 2],
    instancesPerSeries: [2, 3],
    rows: 64,
    cols: 64,
  });
  console.log(`archive: ${a.studies} studies, ${a.instances} instances`);
  const destPort = await freePort();
  const qr = await startDcmqrscp({
    files: [a.out],
    hostTable: [{ name: "dest", aet: "DEST", port: destPort }],
  });
  const studies = await runBin("findscu-ts", [
    "-S",
    "-aec",
    qr.aet,
    "127.0.0.1",
    String(qr.port),
    "-sr",
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
  ]);
  const lines = studies.stdout.trim().split("\n");
  const uids = lines.map((l) => (JSON.parse(l) as { StudyInstanceUID: string }).StudyInstanceUID);
  const queries: string[] = [];
  for (const [i, uid] of uids.entries()) {
    const dump = join(work, `q${i}.txt`);
    await writeFile(dump, `(0008,0052) CS [STUDY]\n(0020,000d) UI [${uid}]\n`);
    const q = join(work, `q${i}.dcm`);
    await runDcmtk("dump2dcm", [dump, q]);
    queries.push(q);
  }
  const input = join(work, "studies.ndjson");
  await writeFile(input, studies.stdout);
  const dcmtk: number[] = [];
  const ours: number[] = [];
  const oursFiles: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const d1 = join(work, `dcmtk-${r}`);
    const d2 = join(work, `ours-${r}`);
    const d3 = join(work, `oursq-${r}`);
    await mkdir(d1);
    await mkdir(d2);
    await mkdir(d3);
    const t1 = await timed("movescu", [
      "-S",
      "-aec",
      qr.aet,
      "-aem",
      "DEST",
      "+P",
      String(destPort),
      "-od",
      d1,
      "127.0.0.1",
      String(qr.port),
      ...queries,
    ]);
    dcmtk.push(t1.wall);
    const t2 = await timed(process.execPath, [
      binPath("movescu-ts"),
      "-S",
      "-aec",
      qr.aet,
      "-aem",
      "DEST",
      "+P",
      String(destPort),
      "-od",
      d2,
      "--input",
      input,
      "--no-output",
      "127.0.0.1",
      String(qr.port),
    ]);
    ours.push(t2.wall);
    const t3 = await timed(process.execPath, [
      binPath("movescu-ts"),
      "-S",
      "-aec",
      qr.aet,
      "-aem",
      "DEST",
      "+P",
      String(destPort),
      "-od",
      d3,
      "--no-output",
      "127.0.0.1",
      String(qr.port),
      ...queries,
    ]);
    oursFiles.push(t3.wall);
    const n1 = await count(d1);
    const n2 = await count(d2);
    const n3 = await count(d3);
    if (n1 !== a.instances || n2 !== a.instances || n3 !== a.instances)
      console.log(
        `warning: files received dcmtk=${n1} ours=${n2} ours(query files)=${n3} of ${a.instances}`,
      );
  }
  // Floor: the same instances with storescu → storescp.
  const floor: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const scp = await startStorescp({ args: ["+xa"] });
    floor.push(
      (await timed("storescu", ["-aec", "ANY", "+sd", "+r", "127.0.0.1", String(scp.port), a.out]))
        .wall,
    );
    await scp.stop();
  }
  const f = median(floor);
  out.push(
    row(
      [
        `${uids.length} study C-MOVEs from dcmqrscp (batch from NDJSON)`,
        median(dcmtk).toFixed(2),
        median(ours).toFixed(2),
        f.toFixed(2),
        `${(median(ours) / median(dcmtk)).toFixed(2)}×`,
      ],
      W,
    ),
  );
  out.push(
    row(
      [
        `${uids.length} study C-MOVEs from dcmqrscp (the same query files)`,
        median(dcmtk).toFixed(2),
        median(oursFiles).toFixed(2),
        f.toFixed(2),
        `${(median(oursFiles) / median(dcmtk)).toFixed(2)}×`,
      ],
      W,
    ),
  );
  await qr.stop();
  // -j 4 vs -j 1 against Orthanc.
  const orthanc = await startOrthanc({
    files: [a.out],
    modalities: { dest: { aet: "DEST", port: destPort } },
  });
  const j: Record<number, number[]> = { 1: [], 4: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const jobs of [1, 4]) {
      const d = join(work, `orthanc-j${jobs}-${r}`);
      await mkdir(d);
      const t = await timed(process.execPath, [
        binPath("movescu-ts"),
        "-S",
        "-aec",
        orthanc.aet,
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
        String(orthanc.port),
      ]);
      j[jobs]!.push(t.wall);
      if ((await count(d)) !== a.instances)
        console.log(`warning: -j ${jobs} received ${await count(d)} of ${a.instances}`);
    }
  }
  const dOrthanc: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const d = join(work, `orthanc-dcmtk-${r}`);
    await mkdir(d);
    dOrthanc.push(
      (
        await timed("movescu", [
          "-S",
          "-aec",
          orthanc.aet,
          "-aem",
          "DEST",
          "+P",
          String(destPort),
          "-od",
          d,
          "127.0.0.1",
          String(orthanc.port),
          ...queries,
        ])
      ).wall,
    );
  }
  out.push(
    row(
      [
        `Orthanc: DCMTK movescu | movescu-ts -j 1`,
        median(dOrthanc).toFixed(2),
        median(j[1]!).toFixed(2),
        "",
        `${(median(j[1]!) / median(dOrthanc)).toFixed(2)}×`,
      ],
      W,
    ),
  );
  out.push(
    row(
      [
        `Orthanc: movescu-ts -j 1 | -j 4`,
        median(j[1]!).toFixed(2),
        median(j[4]!).toFixed(2),
        "",
        `${(median(j[1]!) / median(j[4]!)).toFixed(2)}× faster`,
      ],
      W,
    ),
  );
  await orthanc.stop();
  console.log(`\n${out.join("\n")}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
