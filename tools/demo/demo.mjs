#!/usr/bin/env node
// npm run demo: generate an archive, serve it with the dev PACS, and run the
// dicom-pipes tools on it the way a user would, printing each command.
import { spawn } from "node:child_process";
import { mkdir, rm, readFile } from "node:fs/promises";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs } from "@dicom-pipes/devpacs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "demo-output");
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

function sh(command) {
  console.log(`\n$ ${command}`);
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { cwd: out, env, stdio: ["ignore", "inherit", "inherit"] });
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`command failed with exit status ${code}: ${command}`))));
  });
}

async function lines(file) {
  return (await readFile(join(out, file), "utf8")).split("\n").filter((l) => l.trim() !== "");
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
console.log("dicom-pipes demo");
const summary = await generateArchive({ out: join(out, "archive"), patients: 40, seed: "demo" });
console.log(`generated ${summary.instances} instances (${summary.studies} studies, ${summary.patients} patients) in ${relative(root, summary.out)}/`);
const pacs = await startDevPacs({ dir: join(out, "archive"), host: "127.0.0.1", port: 0 });
console.log(`dev PACS "DEVPACS" listening on 127.0.0.1:${pacs.port}`);
const peer = `-aec DEVPACS 127.0.0.1 ${pacs.port}`;
try {
  await sh(
    `findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=STUDY -k StudyDate -k StudyTime -k PatientID -k PatientName ` +
      `-k StudyInstanceUID -k StudyDescription -k ModalitiesInStudy -k NumberOfStudyRelatedInstances > studies.ndjson`,
  );
  await sh(`findscu-ts -S ${peer} -sr --format tsv -k QueryRetrieveLevel=STUDY -k StudyDate -k PatientID -k AccessionNumber -k StudyDescription -k ModalitiesInStudy > studies.tsv`);
  await sh(`head -3 studies.ndjson | findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=SERIES -k SeriesInstanceUID -k Modality -k SeriesNumber -k SeriesDescription - > series-of-3-studies.ndjson`);
  await sh(`findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=STUDY -k StudyDate=20240101-20241231 -k StudyInstanceUID --split-dates --max-results 25 > studies-split.ndjson`);

  // ---- analysis: institutions and weekday/hour load (inst-count, weekday-plot)
  console.log("\n# analysis of a study-level query");
  await sh(`findscu-ts -S ${peer} -sr -k QueryRetrieveLevel=STUDY -k InstitutionName -k StudyDate -k StudyTime -k StudyInstanceUID > studies-inst.ndjson`);
  await sh(`inst-count --timeframe all studies-inst.ndjson | tee institutions.tsv`);
  await sh(`weekday-plot --timeframe all --holidays DE -o plots --top10-output plots/top10.csv studies-inst.ndjson > plots.ndjson`);
  const plots = await lines("plots.ndjson");

  const studies = await lines("studies.ndjson");
  const series = await lines("series-of-3-studies.ndjson");
  const split = await lines("studies-split.ndjson");
  console.log(`\noutputs in ${relative(process.cwd(), out) || "."}/:`);
  console.log(`  studies.ndjson              ${studies.length} studies, one NDJSON record each`);
  console.log(`  studies.tsv                 the same as TSV (open it in a spreadsheet)`);
  console.log(`  series-of-3-studies.ndjson  ${series.length} series of the first 3 studies (batch query from stdin)`);
  console.log(`  studies-split.ndjson        ${split.length} studies found with --split-dates under a 25-match cap`);
  console.log(`  archive/                    the generated DICOM files`);
  console.log(`  studies-inst.ndjson         study-level results with InstitutionName, StudyDate, StudyTime`);
  console.log(`  institutions.tsv            studies per institution (inst-count)`);
  console.log(`  plots/                      ${plots.length} files from weekday-plot: weekday boxplots, overview.png, median_per_hour_weekday.csv, top10.csv`);
} finally {
  await pacs.close();
}
