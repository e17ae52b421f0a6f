/**
 * Filter tables (`--resolve`) and unmatched rows (`--unmatched`) for
 * movescu-ts against the dev PACS over a generated archive: a row that
 * names studies by PatientID + StudyDate, or series by AccessionNumber +
 * SeriesNumber, retrieves exactly what it names. Expected values come from
 * the archive's files (UIDs, dates, accession and series numbers) and the
 * retrieve requests the archive received, never from movescu-ts's output.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";
import { filesUnder, readMeta } from "@dicom-pipes/test-support/files";
import {
  patientWithTwoDates as twoDates,
  type KeyedInstance,
} from "@dicom-pipes/test-support/retrieve";

let dir: string;
let pacs: DevPacs;
let port: number;
let calls: Array<{ level: string; study?: string; series?: string }> = [];

type Inst = KeyedInstance;
let insts: Inst[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-resolve-"));
  await generateArchive({
    out: join(dir, "archive"),
    patients: 4,
    seed: "resolve",
    studiesPerPatient: [2, 2],
    seriesPerStudy: [2, 3],
    instancesPerSeries: [1, 2],
    rows: 8,
    cols: 8,
  });
  port = await freePort();
  pacs = await startDevPacs({
    dir: join(dir, "archive"),
    moveDestinations: { MOVESCU: { host: "127.0.0.1", port } },
  });
  const select = pacs.archive.select.bind(pacs.archive);
  pacs.archive.select = (identifier, level) => {
    calls.push({
      level,
      study: identifier.string(Tags.StudyInstanceUID),
      series: identifier.string(Tags.SeriesInstanceUID),
    });
    return select(identifier, level);
  };
  insts = [...pacs.archive.instances.values()].map((i) => ({
    sop: i.sopInstanceUid,
    patient: i.patientId,
    study: i.studyUid,
    series: i.seriesUid,
    date: i.head.string(Tags.StudyDate) ?? "",
    accession: i.head.string(Tags.AccessionNumber) ?? "",
    seriesNumber: i.head.string(Tags.SeriesNumber) ?? "",
  }));
});

after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const move = (od: string, extra: string[]) =>
  runBin("movescu-ts", [
    "-S",
    "-aec",
    "DEVPACS",
    "+P",
    String(port),
    "-od",
    od,
    "--no-journal",
    ...extra,
    "127.0.0.1",
    String(pacs.port),
  ]);

/** SOP Instance UIDs and Study Instance UIDs of the files received (read from the files). */
async function received(od: string): Promise<{ sops: string[]; studies: string[] }> {
  const sops: string[] = [];
  const studies = new Set<string>();
  for (const f of await filesUnder(od)) {
    const buf = await readFile(join(od, f));
    const m = readMeta(buf);
    sops.push(m.sopInstanceUid);
    studies.add(insts.find((i) => i.sop === m.sopInstanceUid)!.study);
  }
  return { sops: sops.sort(), studies: [...studies].sort() };
}

const patientWithTwoDates = () => twoDates(insts);

test("PatientID + StudyDate: the one study of that date is retrieved, not the patient's other study", async () => {
  const { patient, date, study, other } = patientWithTwoDates();
  const table = join(dir, "filter.csv");
  await writeFile(table, `PatientID,StudyDate\n${patient},${date}\n`);
  const od = await mkdtemp(join(dir, "od-"));
  calls = [];
  const r = await move(od, ["--input", table]);
  assert.equal(r.code, 0, r.stderr);
  const got = await received(od);
  assert.deepEqual(got.studies, [study], `only ${study}, not ${other}`);
  assert.deepEqual(
    got.sops,
    insts
      .filter((i) => i.study === study)
      .map((i) => i.sop)
      .sort(),
    "every instance of the study, once",
  );
  assert.deepEqual(calls, [{ level: "STUDY", study, series: undefined }], "one STUDY retrieve");
  const [res, ...more] = ndjson(r.stdout);
  assert.equal(more.length, 0);
  assert.equal(res!.query, 2, "the row's query id (its line)");
  assert.equal(res!.StudyInstanceUID, study);
  assert.equal(res!.StudyDate, date);
  assert.equal(res!.status, "Success");
});

test("--resolve never refuses a filter row with exit 2, naming the row and the key", async () => {
  const { patient, date } = patientWithTwoDates();
  const table = join(dir, "never.csv");
  await writeFile(table, `PatientID,StudyDate\n${patient},${date}\n`);
  const od = await mkdtemp(join(dir, "od-"));
  calls = [];
  const r = await move(od, ["--input", table, "--resolve", "never"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /never\.csv:2: StudyDate is not a unique key/);
  assert.deepEqual(calls, [], "nothing retrieved");
  assert.deepEqual(await filesUnder(od), []);
});

test("AccessionNumber + SeriesNumber: the one series, at SERIES level", async () => {
  const inst = insts.find(
    (i) => insts.filter((j) => j.study === i.study && j.series !== i.series).length > 0,
  )!;
  const table = join(dir, "series.csv");
  await writeFile(
    table,
    `Query,Accession Number,SeriesNumber\nA1,${inst.accession},${inst.seriesNumber}\n`,
  );
  const od = await mkdtemp(join(dir, "od-"));
  calls = [];
  const r = await move(od, ["--input", table]);
  assert.equal(r.code, 0, r.stderr);
  const want = insts.filter(
    (i) => i.accession === inst.accession && i.seriesNumber === inst.seriesNumber,
  );
  assert.deepEqual((await received(od)).sops, want.map((i) => i.sop).sort());
  assert.deepEqual(
    calls.map((c) => `${c.level} ${c.series}`),
    [...new Set(want.map((i) => `SERIES ${i.series}`))],
  );
  const res = ndjson(r.stdout);
  assert.ok(res.every((x) => x.query === "A1" && x.status === "Success"));
});

test("rows without a match: a no-match record, --unmatched gives the rows back in the input's columns, exit 0", async () => {
  const { patient, date } = patientWithTwoDates();
  const table = join(dir, "mixed.csv");
  // The second row's date has no study; columns in another order than the output's.
  await writeFile(table, `StudyDate,PatientID\n${date},${patient}\n19000101,${patient}\n`);
  const od = await mkdtemp(join(dir, "od-"));
  const unmatched = join(dir, "unmatched.csv");
  await writeFile(unmatched, "stale\n");
  const r2 = await move(od, ["--input", table, "--unmatched", unmatched]);
  assert.equal(r2.code, 0, r2.stderr);
  const recs = ndjson(r2.stdout);
  const none = recs.filter((x) => x.status === "no-match");
  assert.deepEqual(none, [
    { query: 3, StudyDate: "19000101", PatientID: patient, status: "no-match" },
  ]);
  assert.match(r2.stderr, /mixed\.csv:3: no study matches/);
  assert.equal(await readFile(unmatched, "utf8"), `StudyDate,PatientID\n19000101,${patient}\n`);
});

test("--unmatched with every row found: the header alone", async () => {
  const { patient, date } = patientWithTwoDates();
  const table = join(dir, "all.csv");
  await writeFile(table, `PatientID,StudyDate\n${patient},${date}\n`);
  const od = await mkdtemp(join(dir, "od-"));
  const unmatched = join(dir, "none.csv");
  const r = await move(od, ["--input", table, "--unmatched", unmatched]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(unmatched, "utf8"), "PatientID,StudyDate\n");
});

test("--normalize --date-order dmy: a DD/MM/YYYY date in a filter row is the study of that day", async () => {
  const { patient, date, study } = patientWithTwoDates();
  const dmy = `${date.slice(6, 8)}/${date.slice(4, 6)}/${date.slice(0, 4)}`;
  const table = join(dir, "dmy.csv");
  await writeFile(table, `MRN,Study Date\n${patient},${dmy}\n`);
  const od = await mkdtemp(join(dir, "od-"));
  const refused = await move(od, ["--input", table]);
  assert.equal(refused.code, 2, "without --normalize the date is refused");
  assert.match(refused.stderr, /dmy\.csv:2: /);
  const r = await move(od, ["--input", table, "--normalize", "--date-order", "dmy", "-v"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await received(od)).studies, [study]);
  assert.match(r.stderr, new RegExp(`dmy\\.csv:2: Study Date "${dmy}" normalized to "${date}"`));
});
