#!/usr/bin/env node
// npm run demo: generate an archive, serve it with the dev PACS, and run the
// dicom-pipes tools on it the way a user would, printing each command.
import { spawn } from "node:child_process";
import { mkdir, rm, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs } from "@dicom-pipes/devpacs";
import { createServer } from "node:net";

/** A free loopback port (for movescu-ts to receive on). */
function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "demo-output");
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

function sh(command) {
  console.log(`\n$ ${command}`);
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], {
      cwd: out,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`command failed with exit status ${code}: ${command}`)),
    );
  });
}

async function lines(file) {
  return (await readFile(join(out, file), "utf8")).split("\n").filter((l) => l.trim() !== "");
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
console.log("dicom-pipes demo");
// Three months of a busy archive, so the weekday plots have something to show.
const summary = await generateArchive({
  out: join(out, "archive"),
  patients: 250,
  seed: "demo",
  studiesPerPatient: [1, 3],
  seriesPerStudy: [1, 2],
  instancesPerSeries: [1, 2],
  rows: 32,
  cols: 32,
  startDate: "20240902",
  endDate: "20241129",
});
console.log(
  `generated ${summary.instances} instances (${summary.studies} studies, ${summary.patients} patients) in ${relative(root, summary.out)}/`,
);
const receivePort = await freePort();
const pacs = await startDevPacs({
  dir: join(out, "archive"),
  host: "127.0.0.1",
  port: 0,
  moveDestinations: { DEMO: { host: "127.0.0.1", port: receivePort } },
});
console.log(`dev PACS "DEVPACS" listening on 127.0.0.1:${pacs.port}`);
const peer = `-aec DEVPACS 127.0.0.1 ${pacs.port}`;
try {
  await sh(`echoscu-ts ${peer}`);
  await sh(
    `findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=STUDY -k StudyDate -k StudyTime -k PatientID -k PatientName ` +
      `-k StudyInstanceUID -k StudyDescription -k ModalitiesInStudy -k NumberOfStudyRelatedInstances > studies.ndjson`,
  );
  await sh(
    `findscu-ts -S ${peer} -sr --format tsv -k QueryRetrieveLevel=STUDY -k StudyDate -k PatientID -k AccessionNumber -k StudyDescription -k ModalitiesInStudy > studies.tsv`,
  );
  await sh(
    `findscu-ts -S ${peer} -sr --excel -k QueryRetrieveLevel=STUDY -k StudyDate -k PatientID -k AccessionNumber -k StudyDescription -k ModalitiesInStudy > studies.csv`,
  );
  await sh(
    `head -3 studies.ndjson | findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=SERIES -k SeriesInstanceUID -k Modality -k SeriesNumber -k SeriesDescription - > series-of-3-studies.ndjson`,
  );
  await sh(
    `findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=STUDY -k StudyDate=20240901-20241130 -k StudyInstanceUID --split-dates --max-results 100 > studies-split.ndjson`,
  );

  // ---- retrieval: find, then C-MOVE to ourselves into a layout (movescu-ts), then set the info dumps apart (dumps-move)
  console.log(
    "\n# retrieve the first 5 studies into PACSIFIER's sub-*/ses-*/series folders, with a CSV dump per series",
  );
  await mkdir(join(out, "retrieved"));
  await sh(
    `head -5 studies.ndjson | movescu-ts -S -aec DEVPACS -aem DEMO +P ${receivePort} -od retrieved --layout pacsifier --info 127.0.0.1 ${pacs.port} > retrieved.ndjson`,
  );
  await sh(`dumps-move --data-folder retrieved --info-folder retrieved-info > dumps-moved.ndjson`);

  // ---- de-identification of what was retrieved (dcmanon), with a key made for this demo
  console.log(
    "\n# de-identify the retrieved studies: PS3.15 Basic Profile, dates shifted per patient, BIDS-like layout",
  );
  await writeFile(join(out, "demo.key"), randomBytes(48).toString("base64"), { mode: 0o600 });
  await sh(
    `dcmanon --secret-file demo.key --retain-modified-dates --date-shift -365:-30 --layout bids ` +
      `--map-out deidentified-map.ndjson --audit-log deidentified-audit.ndjson -o deidentified retrieved > deidentified.ndjson`,
  );
  const anonResults = (await lines("deidentified.ndjson")).map((l) => JSON.parse(l));
  for (const r of anonResults.slice(0, 3))
    console.log(
      JSON.stringify({
        in: r.in,
        out: r.out,
        status: r.status,
        patient: r.patient,
        options: r.options,
      }),
    );
  const byStatus = {};
  for (const r of anonResults) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  console.log(
    `dcmanon: ${Object.entries(byStatus)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}`,
  );

  // ---- files on disk: a disc folder with a DICOMDIR, and a searchable index of the archive (dcmdir)
  console.log(
    "\n# burn the de-identified studies to a disc folder; index the archive and find its chest series",
  );
  await sh(`dcmdir create -o cd deidentified > cd.ndjson`);
  await sh(`dcmdir list --level study cd/DICOMDIR > cd-studies.ndjson`);
  await sh(`dcmdir index --db archive.db archive > index.ndjson`);
  await sh(
    `dcmdir query --db archive.db --targets StudyDescription --pattern CHEST --format csv -o chest-series.csv`,
  );

  // ---- analysis: institutions and weekday/hour load (inst-count, weekday-plot)
  console.log("\n# analysis of a study-level query");
  await sh(
    `findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=STUDY -k InstitutionName -k StudyDate -k StudyTime -k StudyInstanceUID > studies-inst.ndjson`,
  );
  await sh(`inst-count --timeframe all studies-inst.ndjson | tee institutions.tsv`);
  await sh(
    `weekday-plot --timeframe all --holidays DE -o plots --top10-output plots/top10.csv studies-inst.ndjson > plots.ndjson`,
  );
  const plots = await lines("plots.ndjson");

  const studies = await lines("studies.ndjson");
  const series = await lines("series-of-3-studies.ndjson");
  const split = await lines("studies-split.ndjson");
  const retrieved = (await lines("retrieved.ndjson")).map((l) => JSON.parse(l));
  const dumps = await lines("dumps-moved.ndjson");
  console.log(`\noutputs in ${relative(process.cwd(), out) || "."}/:`);
  console.log(`  studies.ndjson              ${studies.length} studies, one NDJSON record each`);
  console.log(`  studies.tsv                 the same as TSV`);
  console.log(
    `  studies.csv                 the same for Excel or LibreOffice (--excel: BOM, CRLF, IDs and dates kept as text)`,
  );
  console.log(
    `  series-of-3-studies.ndjson  ${series.length} series of the first 3 studies (batch query from stdin)`,
  );
  console.log(
    `  studies-split.ndjson        ${split.length} studies found with --split-dates under a 100-match cap`,
  );
  console.log(
    `  retrieved/, retrieved.ndjson  ${retrieved.reduce((n, r) => n + (r.files ?? 0), 0)} files of ${retrieved.length} studies retrieved with movescu-ts (${retrieved.filter((r) => r.status === "Success").length} complete)`,
  );
  console.log(
    `  retrieved-info/             ${dumps.length} per-series CSV dumps moved out of retrieved/ by dumps-move (dumps-moved.ndjson)`,
  );
  console.log(
    `  deidentified/, deidentified.ndjson  ${anonResults.filter((r) => r.status === "ok").length} of ${anonResults.length} retrieved files de-identified by dcmanon (map: deidentified-map.ndjson, mode 0600; audit: deidentified-audit.ndjson)`,
  );
  console.log(
    `  cd/, cd.ndjson              a disc folder of the de-identified studies with a DICOMDIR (dcmdir create); cd-studies.ndjson: ${(await lines("cd-studies.ndjson")).length} studies on it (dcmdir list)`,
  );
  console.log(
    `  archive.db, chest-series.csv  an SQLite index of archive/ (dcmdir index) and ${(await lines("chest-series.csv")).length - 1} chest series found in it (dcmdir query)`,
  );
  console.log(`  archive/                    the generated DICOM files`);
  console.log(
    `  studies-inst.ndjson         study-level results with InstitutionName, StudyDate, StudyTime`,
  );
  console.log(`  institutions.tsv            studies per institution (inst-count)`);
  console.log(
    `  plots/                      ${plots.length} files from weekday-plot: weekday boxplots (Monday_boxplot_all_non-holidays.png, ...), overview.png, median_per_hour_weekday.csv, top10.csv`,
  );
} finally {
  await pacs.close();
}
