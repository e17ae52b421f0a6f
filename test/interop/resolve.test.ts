/**
 * movescu-ts filter tables against real archives (DCMTK dcmqrscp and
 * Orthanc): a row PatientID + StudyDate for a patient with two studies on
 * different dates retrieves exactly the study of that date; a row
 * AccessionNumber + SeriesNumber exactly that series; a row that matches
 * nothing gives a no-match record and its line in --unmatched. The
 * expected instances come from the archive files.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { parsePart10, Tags } from "@dicom-pipes/dimse/dicom";
import {
  freePort,
  hasDcmtk,
  hasOrthanc,
  startDcmqrscp,
  startOrthanc,
  type DcmqrscpPeer,
  type OrthancPeer,
} from "@dicom-pipes/test-support/peers";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { filesUnder, readMeta } from "@dicom-pipes/test-support/files";
import {
  patientWithTwoDates as twoDates,
  type KeyedInstance,
} from "@dicom-pipes/test-support/retrieve";

const skip =
  !hasDcmtk() || !hasOrthanc()
    ? "DCMTK and Orthanc are required (apt-get install dcmtk orthanc)"
    : false;

let work: string;
let qr: DcmqrscpPeer;
let orthanc: OrthancPeer;
let ours: number;

type Inst = KeyedInstance;
const insts: Inst[] = [];

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), "resolve-interop-"));
  const archive = join(work, "archive");
  await generateArchive({
    out: archive,
    patients: 3,
    seed: "interop-resolve",
    studiesPerPatient: [2, 2],
    seriesPerStudy: [2, 3],
    instancesPerSeries: [1, 2],
    rows: 8,
    cols: 8,
  });
  for (const f of await filesUnder(archive)) {
    const { dataset: ds } = parsePart10(await readFile(join(archive, f)));
    insts.push({
      sop: ds.string(Tags.SOPInstanceUID)!,
      patient: ds.string(Tags.PatientID)!,
      study: ds.string(Tags.StudyInstanceUID)!,
      series: ds.string(Tags.SeriesInstanceUID)!,
      date: ds.string(Tags.StudyDate)!,
      accession: ds.string(Tags.AccessionNumber)!,
      seriesNumber: ds.string(Tags.SeriesNumber)!,
    });
  }
  ours = await freePort();
  [qr, orthanc] = await Promise.all([
    startDcmqrscp({
      files: [archive],
      hostTable: [{ name: "ours", aet: "MOVESCU", port: ours }],
    }),
    startOrthanc({ files: [archive], modalities: { ours: { aet: "MOVESCU", port: ours } } }),
  ]);
});

after(async () => {
  await qr?.stop();
  await orthanc?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const patientWithTwoDates = () => twoDates(insts);

/** SOP Instance UIDs of the files received, from the files. */
async function received(od: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await filesUnder(od))
    out.push(readMeta(await readFile(join(od, f))).sopInstanceUid);
  return out.sort();
}

const PEERS = [
  { name: "dcmqrscp", peer: () => qr },
  { name: "Orthanc", peer: () => orthanc },
];

for (const { name, peer } of PEERS) {
  describe(`against ${name}`, { skip }, () => {
    const move = (od: string, extra: string[]) =>
      runBin("movescu-ts", [
        "-S",
        "-aec",
        peer().aet,
        "+P",
        String(ours),
        "-od",
        od,
        "--no-journal",
        ...extra,
        "127.0.0.1",
        String(peer().port),
      ]);

    test("PatientID + StudyDate retrieves exactly the study of that date; a row without a match goes to --unmatched", async () => {
      const { patient, date, study } = patientWithTwoDates();
      const table = join(work, `${name}-dates.csv`);
      await writeFile(table, `PatientID,StudyDate\n${patient},${date}\n${patient},19000101\n`);
      const od = await mkdtemp(join(work, `${name}-od-`));
      const unmatched = join(work, `${name}-unmatched.csv`);
      const r = await move(od, ["--input", table, "--unmatched", unmatched]);
      assert.equal(r.code, 0, r.stderr);
      const want = insts.filter((i) => i.study === study);
      assert.deepEqual(await received(od), want.map((i) => i.sop).sort(), "the one study, whole");
      const recs = ndjson(r.stdout);
      assert.deepEqual(
        recs.map((x) => [x.query, x.status, x.StudyInstanceUID ?? null]),
        [
          [2, "Success", study],
          [3, "no-match", null],
        ],
      );
      assert.equal(await readFile(unmatched, "utf8"), `PatientID,StudyDate\n${patient},19000101\n`);
    });

    test("AccessionNumber + SeriesNumber retrieves exactly that series", async () => {
      const inst = insts.find(
        (i) => insts.filter((j) => j.study === i.study && j.series !== i.series).length > 0,
      )!;
      const table = join(work, `${name}-series.csv`);
      await writeFile(
        table,
        `AccessionNumber,SeriesNumber\n${inst.accession},${inst.seriesNumber}\n`,
      );
      const od = await mkdtemp(join(work, `${name}-od-`));
      const r = await move(od, ["--input", table]);
      assert.equal(r.code, 0, r.stderr);
      const want = insts.filter(
        (i) => i.accession === inst.accession && i.seriesNumber === inst.seriesNumber,
      );
      assert.deepEqual(await received(od), want.map((i) => i.sop).sort());
    });
  });
}
