/**
 * Query tables from spreadsheets: an .xlsx written by LibreOffice Calc
 * (headless, from a CSV whose columns are imported as a number, text and a
 * real date) is read as a query table, and --normalize rewrites what
 * spreadsheets do to IDs and dates. What the scripted archive received is
 * compared with the values the spreadsheet was made from.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { runBin } from "@dicom-pipes/test-support/bins";
import { scriptedScp, type Recorder } from "./scripted.js";

const soffice =
  spawnSync("soffice", ["--version"], { encoding: "utf8", timeout: 60000 }).status === 0;
const skip = soffice
  ? false
  : "no LibreOffice (apt-get install --no-install-recommends libreoffice-calc-nogui)";

let dir: string;
let book: string;
let scp: Recorder;

// Column formats for Calc's CSV import: 1 standard (the MRN becomes a number,
// its leading zeros lost, as in Excel), 2 text, 5 a YYYY-MM-DD date cell.
const CSV =
  "MRN,PatientName,Study Date,PatientBirthDate,StudyDescription,AccessionNumber\n" +
  "0012345,Müller^Jürgen,2024-01-31,31/01/1950,Thorax,A1\n" +
  "987,山田^太郎,2023-12-05,05/12/1960,Kopf *,A2\n";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "findscu-xlsx-"));
  scp = await scriptedScp({ onFind: (c) => c.final(0x0000) });
  if (skip) return;
  writeFileSync(join(dir, "patients.csv"), CSV);
  const r = spawnSync(
    "soffice",
    [
      `-env:UserInstallation=file://${join(dir, "profile")}`,
      "--headless",
      "--infilter=CSV:44,34,76,1,1/1/2/2/3/5/4/2/5/2/6/2",
      "--convert-to",
      "xlsx",
      "--outdir",
      join(dir, "xlsx"),
      join(dir, "patients.csv"),
    ],
    { encoding: "utf8", timeout: 120000 },
  );
  assert.equal(r.status, 0, r.stderr);
  book = join(dir, "xlsx", "patients.xlsx");
});

after(async () => {
  await scp?.close();
  rmSync(dir, { recursive: true, force: true });
});

const find = (args: string[]) =>
  runBin("findscu-ts", [
    "-S",
    "-aec",
    "SCP",
    "-k",
    "StudyInstanceUID",
    ...args,
    "127.0.0.1",
    String(scp.port),
  ]);

/** The identifiers the archive received since `from`, as keyword → value. */
function received(from: number): Array<Record<string, string | undefined>> {
  return scp.finds.slice(from).map((ds) => ({
    PatientID: ds.string(Tags.PatientID),
    PatientName: ds.string(Tags.PatientName),
    StudyDate: ds.string(Tags.StudyDate),
    PatientBirthDate: ds.string(Tags.PatientBirthDate),
    StudyDescription: ds.string(Tags.StudyDescription),
    AccessionNumber: ds.string(Tags.AccessionNumber),
  }));
}

test(".xlsx with --normalize: MRNs padded, dd/mm/yyyy text and date cells as DICOM dates, *text* descriptions, names exact; each change at -v", {
  skip,
}, async () => {
  const from = scp.finds.length;
  const r = await find([
    "--queries",
    book,
    "--normalize",
    "--mrn-width",
    "7",
    "--date-order",
    "dmy",
    "-v",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(received(from), [
    {
      PatientID: "0012345",
      PatientName: "Müller^Jürgen",
      StudyDate: "20240131",
      PatientBirthDate: "19500131",
      StudyDescription: "*Thorax*",
      AccessionNumber: "A1",
    },
    {
      PatientID: "0000987",
      PatientName: "山田^太郎",
      StudyDate: "20231205",
      PatientBirthDate: "19601205",
      StudyDescription: "Kopf *",
      AccessionNumber: "A2",
    },
  ]);
  assert.match(r.stderr, /patients\.xlsx:2: MRN "12345" normalized to "0012345"/);
  assert.match(
    r.stderr,
    /patients\.xlsx:3: PatientBirthDate "05\/12\/1960" normalized to "19601205"/,
  );
  assert.doesNotMatch(r.stderr, /StudyDate "/, "date cells are read as dates, not normalised");
});

test(".xlsx --normalize --date-order mdy reads the same text the other way", { skip }, async () => {
  const from = scp.finds.length;
  const r = await find(["--queries", book, "--normalize", "--date-order", "mdy"]);
  // 31/01/1950 has no month 31.
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /patients\.xlsx:2: PatientBirthDate: "31\/01\/1950" is not a date in the order month\/day\/year/,
  );
  assert.equal(scp.finds.length, from, "nothing asked");
});

test(".xlsx without --normalize: the dd/mm/yyyy text is refused naming the row; without --mrn-width numbers stay as the cells hold them", {
  skip,
}, async () => {
  const r = await find(["--queries", book]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /patients\.xlsx:2: .*PatientBirthDate/);
  const from = scp.finds.length;
  const named = await find([
    "--queries",
    book,
    "--sheet",
    "patients",
    "--normalize",
    "--date-order",
    "dmy",
  ]);
  assert.equal(named.code, 0, named.stderr);
  assert.deepEqual(
    received(from).map((x) => x.PatientID),
    ["12345", "987"],
    "number cells as written, without Excel's formatting",
  );
});

test("--sheet: a sheet the workbook does not have is exit 2 naming the sheets it has", {
  skip,
}, async () => {
  const r = await find(["--queries", book, "--sheet", "Results"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /patients\.xlsx: --sheet: no sheet "Results"; the workbook has: patients/);
});
