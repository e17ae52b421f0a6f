/**
 * findscu-ts --excel through a real spreadsheet engine: the CSV is opened
 * by LibreOffice Calc (headless), saved as .xlsx, and the .xlsx converted
 * back to CSV; every value must come back exactly. The same round trip of
 * plain --format csv shows what the engine does to unprotected values
 * (the reason for --excel), so the test cannot pass by accident.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { Dataset, Tags } from "@dicom-pipes/dimse/dicom";
import { runBin } from "@dicom-pipes/test-support/bins";
import { scriptedScp } from "./scripted.js";

const soffice =
  spawnSync("soffice", ["--version"], { encoding: "utf8", timeout: 60000 }).status === 0;
const skip = soffice
  ? false
  : "no LibreOffice (apt-get install --no-install-recommends libreoffice-calc-nogui)";

interface Row {
  PatientName: string;
  PatientID: string;
  StudyDate: string;
  StudyTime: string;
  AccessionNumber: string;
  StudyDescription: string;
  StudyInstanceUID: string;
}

/** What an archive might hold: each value is one a spreadsheet would change (the last description is longer than Excel's 255-character text constants). */
const ROWS: Row[] = [
  {
    PatientName: "MÜLLER^HANS",
    PatientID: "00123",
    StudyDate: "20240101",
    StudyTime: "083000",
    AccessionNumber: "12345678901234567890",
    StudyDescription: "=1+2",
    StudyInstanceUID: "1.2.840.113619.2.55.3.604688119.971.1",
  },
  {
    PatientName: "山田^太郎=ヤマダ^タロウ",
    PatientID: "0042",
    StudyDate: "20241231",
    StudyTime: "235959.123",
    AccessionNumber: "Mar-5",
    StudyDescription: '-5 CT "HEAD", w/o',
    StudyInstanceUID: "1.2.3",
  },
  {
    PatientName: "O'BRIEN^ZOË",
    PatientID: "ABC-1",
    StudyDate: "19991231",
    StudyTime: "0700",
    AccessionNumber: "TRUE",
    StudyDescription: `@SUM(A1) ${"ü".repeat(300)}`,
    StudyInstanceUID: "2.25.314159265358979323846264338327950288",
  },
];
const KEYS = Object.keys(ROWS[0]!) as Array<keyof Row>;
const VR: Record<keyof Row, string> = {
  PatientName: "PN",
  PatientID: "LO",
  StudyDate: "DA",
  StudyTime: "TM",
  AccessionNumber: "SH",
  StudyDescription: "LO",
  StudyInstanceUID: "UI",
};

function dataset(r: Row): Dataset {
  const ds = new Dataset();
  ds.setString(Tags.SpecificCharacterSet, "CS", "ISO_IR 192");
  ds.setString(Tags.QueryRetrieveLevel, "CS", "STUDY");
  for (const k of KEYS) ds.setString(Tags[k], VR[k], r[k]);
  return ds;
}

/** CSV bytes -> .xlsx -> CSV (UTF-8) through LibreOffice; the cells of the result. */
function roundTrip(dir: string, name: string, csv: Buffer): string[][] {
  const src = join(dir, `${name}.csv`);
  writeFileSync(src, csv);
  // Profile in the temporary folder: no state shared with other runs; Calc's
  // CSV import is told UTF-8 (76) and comma/quote, as Excel decides from the BOM.
  const profile = `-env:UserInstallation=file://${join(dir, "profile")}`;
  const run = (args: string[]) => {
    const r = spawnSync("soffice", [profile, "--headless", ...args], {
      cwd: dir,
      encoding: "utf8",
      timeout: 120000,
    });
    assert.equal(r.status, 0, `soffice ${args.join(" ")}: ${r.stderr}`);
  };
  run(["--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", join(dir, "xlsx"), src]);
  run([
    "--convert-to",
    "csv:Text - txt - csv (StarCalc):44,34,76,1",
    "--outdir",
    join(dir, "back"),
    join(dir, "xlsx", `${name}.xlsx`),
  ]);
  return parse(readFileSync(join(dir, "back", `${name}.csv`), "utf8"), {
    relax_column_count: true,
  }) as string[][];
}

test("--excel: names, IDs with leading zeros, dates, times, UIDs and formula-like text survive LibreOffice exactly", {
  skip,
}, async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      for (const r of ROWS) await c.pending(dataset(r));
      await c.final(0x0000);
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "findscu-excel-"));
  try {
    const query = [
      "-S",
      "-aec",
      "SCP",
      "-sr",
      "-k",
      "QueryRetrieveLevel=STUDY",
      ...KEYS.flatMap((k) => ["-k", k]),
      "127.0.0.1",
      String(scp.port),
    ];
    const excel = await runBin("findscu-ts", [...query, "--excel"]);
    assert.equal(excel.code, 0, excel.stderr);
    const bytes = excel.stdoutBytes;
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 byte order mark");
    assert.equal(
      bytes.toString("utf8").split("\r\n").length,
      ROWS.length + 2,
      "CRLF after every row",
    );
    assert.ok(!/[^\r]\n/.test(bytes.toString("utf8")), "no bare LF");

    // Columns in tag order, without QueryRetrieveLevel (not a column anybody asked for).
    const [header, ...cells] = roundTrip(dir, "excel", bytes);
    assert.deepEqual(header, [
      "StudyDate",
      "StudyTime",
      "AccessionNumber",
      "StudyDescription",
      "PatientName",
      "PatientID",
      "StudyInstanceUID",
    ]);
    assert.deepEqual(
      cells.map((c) => Object.fromEntries(header!.map((k, i) => [k, c[i]]))),
      ROWS,
    );

    // The control: plain CSV loses leading zeros, digits and times, and runs the formula.
    const plain = await runBin("findscu-ts", [...query, "--format", "csv"]);
    assert.equal(plain.code, 0, plain.stderr);
    const back = roundTrip(dir, "plain", plain.stdoutBytes);
    assert.deepEqual(
      back[1]!.slice(1, 6),
      ["83000", "1.23456789012346E+019", "3", "MÜLLER^HANS", "123"],
      "plain CSV: StudyTime, AccessionNumber, the =1+2 description and PatientID changed",
    );
  } finally {
    await scp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--excel writes CSV: another --format with it is a usage error", async () => {
  for (const f of ["tsv", "ndjson"]) {
    const r = await runBin("findscu-ts", [
      "-S",
      "--excel",
      "--format",
      f,
      "127.0.0.1",
      "9",
      "-k",
      "PatientID",
    ]);
    assert.equal(r.code, 2, f);
    assert.equal(
      r.stderr,
      `E: findscu-ts: --excel writes CSV; it cannot be combined with --format ${f}\nTry 'findscu-ts --help' for more information.\n`,
    );
  }
});
