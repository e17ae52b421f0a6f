/**
 * findscu-ts batch mode and output formats against the dev PACS (an
 * in-process archive over a generated folder). Expected values come from
 * the generator's own summary and the generated files, not from findscu-ts.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive, type ArchiveSummary } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { runBin, ndjson, runMain } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";

let dir: string;
let pacs: DevPacs;
let summary: ArchiveSummary;
/** Studies in the archive: uid → {patientId, accession, date}. */
const studies = new Map<string, { patientId: string; accession: string; date: string }>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "findscu-batch-"));
  summary = await generateArchive({
    out: join(dir, "archive"),
    patients: 10,
    seed: "batch",
    studiesPerPatient: [1, 3],
    seriesPerStudy: [1, 2],
    instancesPerSeries: [1, 2],
  });
  pacs = await startDevPacs({ dir: join(dir, "archive") });
  for (const i of pacs.archive.instances.values()) {
    studies.set(i.studyUid, {
      patientId: i.patientId,
      accession: i.head.string(Tags.AccessionNumber) ?? "",
      date: i.head.string(Tags.StudyDate) ?? "",
    });
  }
});

after(async () => {
  await pacs?.close();
  await rm(dir, { recursive: true, force: true });
});

const base = () => ["-S", "-aec", "DEVPACS", "127.0.0.1", String(pacs.port), "-sr"];

test("a single -k query returns every study, one NDJSON record each", async () => {
  const r = await runBin("findscu-ts", [
    ...base(),
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
    "-k",
    "PatientID",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recs = ndjson(r.stdout);
  assert.equal(recs.length, summary.studies);
  assert.deepEqual(new Set(recs.map((x) => x.StudyInstanceUID)), new Set(studies.keys()));
  assert.ok(
    recs.every((x) => !("query" in x)),
    "no query field for a single query",
  );
});

test("CSV batch: aliases map to keywords, the ID column tags each record, -k applies to every row", async () => {
  const picks = [...studies.entries()].slice(0, 4);
  const csv = `${[
    "ID,Accession Number,mrn",
    ...picks.map(([, s], i) => `A${i},${s.accession},${s.patientId}`),
  ].join("\r\n")}\r\n`;
  const file = join(dir, "q.csv");
  await writeFile(file, `\uFEFF${csv}`);
  const r = await runMain(main, [
    ...base(),
    "--queries",
    file,
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recs = ndjson(r.stdout);
  assert.deepEqual(
    recs.map((x) => [x.query, x.StudyInstanceUID]),
    picks.map(([uid], i) => [`A${i}`, uid]),
  );
  assert.equal(recs[0]!.AccessionNumber, picks[0]![1].accession);
});

test("a bare -k naming a row's column keeps the row's value (it would otherwise match every study); -k Key=value overrides it", async () => {
  const withAccession = [...studies.entries()].filter(([, s]) => s.accession !== "").slice(0, 2);
  const file = join(dir, "accessions.csv");
  await writeFile(
    file,
    `${["AccessionNumber", ...withAccession.map(([, s]) => s.accession)].join("\n")}\n`,
  );
  let r = await runMain(main, [
    ...base(),
    "--queries",
    file,
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "AccessionNumber",
    "-k",
    "StudyInstanceUID",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => [x.AccessionNumber, x.StudyInstanceUID]),
    withAccession.map(([uid, s]) => [s.accession, uid]),
  );
  const [uid, one] = withAccession[0]!;
  r = await runMain(main, [
    ...base(),
    "--queries",
    file,
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    `AccessionNumber=${one.accession}`,
    "-k",
    "StudyInstanceUID",
  ]);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => x.StudyInstanceUID),
    [uid, uid],
  );
});

test("queries from stdin (NDJSON), without an ID column the line number is the query", async () => {
  const picks = [...studies.values()].slice(0, 3);
  const input = `${picks.map((s) => JSON.stringify({ PatientID: s.patientId, StudyDate: null })).join("\n")}\n`;
  const r = await runMain(
    main,
    [...base(), "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-"],
    { input },
  );
  assert.equal(r.code, 0, r.stderr);
  const recs = ndjson(r.stdout);
  for (const rec of recs) {
    const line = rec.query as number;
    assert.equal(rec.PatientID, picks[line - 1]!.patientId);
  }
  const expected = picks.reduce(
    (n, p) => n + [...studies.values()].filter((s) => s.patientId === p.patientId).length,
    0,
  );
  assert.equal(recs.length, expected);
});

test("stdin is read when no -k keys and no files are given", async () => {
  const uid = [...studies.keys()][0]!;
  const r = await runMain(main, base(), {
    input:
      JSON.stringify({ QueryRetrieveLevel: "STUDY", StudyInstanceUID: uid, PatientID: null }) +
      "\n",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => x.StudyInstanceUID),
    [uid],
  );
});

test("an unknown column is exit 2, naming it and suggesting the keyword", async () => {
  const file = join(dir, "bad-col.csv");
  await writeFile(file, "patientID,StudyDate\nX,\n");
  const r = await runMain(main, [...base(), "--queries", file, "-k", "QueryRetrieveLevel=STUDY"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /bad-col\.csv:1: unknown column "patientID" \(did you mean "PatientID"\?\)/,
  );
  assert.equal(r.stdout, "");
});

test("a lone * and invalid dates are rejected with the line number", async () => {
  const cases: Array<[string, RegExp]> = [
    ["PatientID,StudyDate\n*,\n", /:2: PatientID: a lone "\*" matches everything/],
    ["PatientID,StudyDate\nX,20230230\n", /:2: StudyDate: "20230230" is not a date/],
    [
      "PatientID,StudyDate\nX,20240301-20240101\n",
      /:2: StudyDate: range "20240301-20240101" ends before it starts/,
    ],
    ["PatientID,StudyInstanceUID\nX,1.2.abc\n", /:2: StudyInstanceUID: "1\.2\.abc" is not a UID/],
  ];
  for (const [csv, re] of cases) {
    const file = join(dir, "bad-val.csv");
    await writeFile(file, csv);
    const r = await runMain(main, [...base(), "--queries", file, "-k", "QueryRetrieveLevel=STUDY"]);
    assert.equal(r.code, 2, csv);
    assert.match(r.stderr, re);
  }
});

test("open date ranges are valid", async () => {
  const file = join(dir, "open.csv");
  await writeFile(file, "StudyDate\n20240601-\n-20240531\n");
  const r = await runMain(main, [
    ...base(),
    "--queries",
    file,
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recs = ndjson(r.stdout);
  assert.equal(recs.length, summary.studies, "the two halves cover every study once");
  for (const rec of recs) {
    if (rec.query === 2) assert.ok((rec.StudyDate as string) >= "20240601");
    else assert.ok((rec.StudyDate as string) <= "20240531");
  }
});

test("--keep-going skips invalid rows and exits 3", async () => {
  const uid = [...studies.keys()][0]!;
  const file = join(dir, "mixed.csv");
  await writeFile(file, `StudyInstanceUID,StudyDate\n${uid},\nnot-a-uid,\n`);
  const r = await runMain(main, [
    ...base(),
    "--queries",
    file,
    "--keep-going",
    "-k",
    "QueryRetrieveLevel=STUDY",
  ]);
  assert.equal(r.code, 3);
  assert.equal(ndjson(r.stdout).length, 1);
  assert.match(r.stderr, /mixed\.csv:3: .*not a UID.*\(skipped\)/);
});

test("--format csv and tsv: header of requested keys (not the tool's QueryRetrieveLevel), arrays joined with \\", async () => {
  const args = [
    ...base(),
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
    "-k",
    "ModalitiesInStudy",
    "-k",
    "PatientName",
  ];
  const csv = await runMain(main, [...args, "--format", "csv"]);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split("\n");
  assert.equal(lines[0], "ModalitiesInStudy,PatientName,StudyInstanceUID");
  assert.equal(csv.stderr, "", "no warning about a dropped QueryRetrieveLevel");
  assert.equal(lines.length, summary.studies + 1);
  const nd = ndjson((await runMain(main, args)).stdout);
  const multi = nd.find((x) => (x.ModalitiesInStudy as string[]).length > 1);
  assert.ok(multi, "the seeded archive has a multi-modality study");
  const row = lines.find((l) => l.endsWith(`,${multi.StudyInstanceUID as string}`))!;
  assert.equal(row.split(",")[0], (multi.ModalitiesInStudy as string[]).join("\\"));
  const tsv = await runMain(main, [...args, "--format", "tsv"]);
  assert.equal(tsv.stdout.split("\n")[0], "ModalitiesInStudy\tPatientName\tStudyInstanceUID");
  assert.equal(nd[0]!.QueryRetrieveLevel, "STUDY", "NDJSON keeps every key of the response");
});

test("--split-dates with --max-results finds every study exactly once", async () => {
  const r = await runMain(main, [
    ...base(),
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
    "-k",
    "StudyDate=20240101-20241231",
    "--split-dates",
    "--max-results",
    "3",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const uids = ndjson(r.stdout).map((x) => x.StudyInstanceUID as string);
  assert.equal(uids.length, new Set(uids).size, "no duplicates");
  assert.deepEqual(new Set(uids), new Set(studies.keys()));
});

test("-X writes rsp0001.dcm… and the counter matches the dump", async () => {
  const out = await mkdtemp(join(dir, "x-"));
  const r = await runMain(main, [
    "-S",
    "-aec",
    "DEVPACS",
    "127.0.0.1",
    String(pacs.port),
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
    "-X",
    "-od",
    out,
    "+sr",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const files = (await readdir(out)).sort();
  assert.equal(files.length, summary.studies);
  assert.equal(files[0], "rsp0001.dcm");
  assert.equal((r.stderr.match(/Find Response: \d+ \(Pending\)/g) ?? []).length, summary.studies);
});
