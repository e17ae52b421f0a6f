/**
 * --normalize rules (io/normalize.ts) on rows as the readers give them,
 * and date cells (io/xlsx.ts). Expected values are the DICOM forms of the
 * dates written here (PS3.5 6.2 DA: YYYYMMDD; a range YYYYMMDD-YYYYMMDD).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dateCell, InputError, normalizer } from "../src/io/index.js";

function run(row: Record<string, unknown>, o: Parameters<typeof normalizer>[0] = {}) {
  const changes: string[] = [];
  normalizer({ ...o, onChange: (w, c, f, t) => changes.push(`${w} ${c} ${f}>${t}`) })(
    row,
    "t.csv",
    4,
  );
  return changes;
}

test("dates: dmy and mdy text, ISO, ranges; DICOM dates and other columns untouched", () => {
  const row = {
    "Study Date": "3/2/2024",
    PatientBirthDate: "1950-01-31",
    StudyTime: "3/2/2024",
    SeriesDate: "01.02.2024 - 03.02.2024",
    AcquisitionDate: "20240101-20240131",
  };
  const changes = run(row, { dateOrder: "dmy" });
  assert.deepEqual(row, {
    "Study Date": "20240203",
    PatientBirthDate: "19500131",
    StudyTime: "3/2/2024",
    SeriesDate: "20240201-20240203",
    AcquisitionDate: "20240101-20240131",
  });
  assert.equal(changes.length, 3);
  assert.equal(changes[0], "t.csv:4 Study Date 3/2/2024>20240203");
  const us = { StudyDate: "3/2/2024" };
  run(us, { dateOrder: "mdy" });
  assert.equal(us.StudyDate, "20240302");
});

test("dates: no --date-order, or a day the month lacks, is an InputError naming the line and column", () => {
  assert.throws(
    () => run({ StudyDate: "01/02/2024" }),
    (e: unknown) =>
      e instanceof InputError &&
      e.line === 4 &&
      /StudyDate: "01\/02\/2024" could be day\/month or month\/day/.test(e.message),
  );
  assert.throws(
    () => run({ StudyDate: "31/02/2024" }, { dateOrder: "dmy" }),
    /t\.csv:4: StudyDate: "31\/02\/2024" is not a date/,
  );
  assert.throws(() => run({ StudyDate: "2023-02-29" }), /is not a date/);
});

test("MRNs: digits padded to --mrn-width, other IDs and no width left alone; descriptions as *text*", () => {
  const row = { MRN: "987", PatientID: "x", StudyDescription: "CT", SeriesDescription: "T1*" };
  run(row, { mrnWidth: 7 });
  assert.deepEqual(row, {
    MRN: "0000987",
    PatientID: "x",
    StudyDescription: "*CT*",
    SeriesDescription: "T1*",
  });
  const none = { PatientID: "987" };
  assert.deepEqual(run(none), []);
  assert.equal(none.PatientID, "987");
});

test("date cells: a date, a date and time, a time of day", () => {
  assert.equal(dateCell(new Date(Date.UTC(2024, 0, 31))), "20240131");
  assert.equal(dateCell(new Date(Date.UTC(2024, 0, 31, 8, 30, 5))), "20240131083005");
  assert.equal(dateCell(new Date(Date.UTC(1899, 11, 30, 23, 59, 59))), "235959");
});
