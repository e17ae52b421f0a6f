// Analysis input (src/records/legacy.ts, src/records/analysis.ts,
// src/io/analysis.ts, src/cli/analysis.ts). Fixtures are written by hand
// from pydicom's str(DataElement) layout (seed-behaviour.md §1.2); the
// expected records follow from the PS3.6 dictionary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DistinctSet,
  isLegacyRecord,
  legacyToFlat,
  parseDicomDate,
  parseDicomHour,
  isoWeekday,
  formatDicomDate,
  dayNumber,
} from "../src/records/index.js";
import { InputError, readAnalysisBatches, type InputRecord } from "../src/io/index.js";
import {
  parseAnalysisKeys,
  resolveWindow,
  inWindow,
  displayName,
  UsageError,
} from "../src/cli/index.js";

const pad = (s: string) => s.padEnd(35);
/** pydicom 2: "(0008, 0080) Institution Name <pad> LO: 'x'". */
const v2 = (g: string, e: string, name: string, vr: string, rep: string) =>
  `(${g}, ${e}) ${pad(name)} ${vr}: ${rep}`;
/** pydicom 3: "(0008,0080) Institution Name <pad> LO: 'x'". */
const v3 = (g: string, e: string, name: string, vr: string, rep: string) =>
  `(${g},${e}) ${pad(name)} ${vr}: ${rep}`;

test("legacy records: pydicom 2 and 3 forms convert to the same flat record", () => {
  for (const v of [v2, v3]) {
    const rec = {
      "(0010,0020)": v("0010", "0020", "Patient ID", "LO", "'P001'"),
      "(0008,0080)": v("0008", "0080", "Institution Name", "LO", "'Example Hospital'"),
      "(0008,0020)": v("0008", "0020", "Study Date", "DA", "'20231101'"),
      "(0008,0030)": v("0008", "0030", "Study Time", "TM", "'083000'"),
      "(0008,1030)": "",
      "(0008,0060)": v("0008", "0060", "Modality", "CS", "'CT'"),
      "(0020,000D)": v("0020", "000D", "Study Instance UID", "UI", "1.2.826.0.1.3680043.8.498.1"),
    };
    assert.ok(isLegacyRecord(rec));
    assert.deepEqual(legacyToFlat(rec), {
      PatientID: "P001",
      InstitutionName: "Example Hospital",
      StudyDate: "20231101",
      StudyTime: "083000",
      Modality: "CT",
      StudyInstanceUID: "1.2.826.0.1.3680043.8.498.1",
    });
  }
});

test("legacy values: quoting, escapes, empty, lists, numbers, single space (README form), UID names", () => {
  const f = (
    vr: string,
    rep: string,
    tag: readonly [string, string, string] = ["0008", "0080", "Institution Name"],
  ) =>
    legacyToFlat({ [`(${tag[0]},${tag[1]})`]: `(${tag[0]}, ${tag[1]}) ${tag[2]} ${vr}: ${rep}` });
  assert.deepEqual(f("LO", `"St. Mary's Hospital"`), { InstitutionName: "St. Mary's Hospital" });
  assert.deepEqual(f("LO", `'Say "hi"'`), { InstitutionName: 'Say "hi"' });
  assert.deepEqual(f("LO", `'It\\'s \\\\ here'`), { InstitutionName: "It's \\ here" });
  assert.deepEqual(f("LO", `'Universitätsklinikum'`), { InstitutionName: "Universitätsklinikum" });
  assert.deepEqual(f("LO", `'tab\\there \\x41\\u00e9'`), { InstitutionName: "tab\there Aé" });
  assert.deepEqual(f("LO", "''"), { InstitutionName: null });
  assert.deepEqual(f("CS", "['CT', 'PT']", ["0008", "0061", "Modalities in Study"]), {
    ModalitiesInStudy: ["CT", "PT"],
  });
  assert.deepEqual(f("CS", "'CT'", ["0008", "0061", "Modalities in Study"]), {
    ModalitiesInStudy: ["CT"],
  });
  assert.deepEqual(f("IS", "'42'", ["0020", "1208", "Number of Study Related Instances"]), {
    NumberOfStudyRelatedInstances: 42,
  });
  assert.deepEqual(f("UI", "CT Image Storage", ["0008", "0016", "SOP Class UID"]), {
    SOPClassUID: "1.2.840.10008.5.1.4.1.1.2",
  });
  assert.deepEqual(f("UI", "", ["0020", "000D", "Study Instance UID"]), { StudyInstanceUID: null });
  assert.deepEqual(f("LO", "'x'", ["0009", "1010", "Private tag data"]), {
    "00091010": { vr: "LO", Value: ["x"] },
  });
  // JSON's \uXXXX escapes (ensure_ascii) are decoded by JSON.parse before we see them.
  const parsed = JSON.parse(
    `{"(0008,0080)": "(0008, 0080) Institution Name LO: 'Klinik M\\u00fcnchen'"}`,
  ) as Record<string, unknown>;
  assert.deepEqual(legacyToFlat(parsed), { InstitutionName: "Klinik München" });
});

test("legacy values of another shape are errors naming the key and the expected form", () => {
  assert.throws(
    () => legacyToFlat({ "(0008,0080)": "Example Hospital" }),
    /\(0008,0080\): expected a pydicom element string like "\(0008, 0080\) Institution Name LO: 'Example Hospital'"/,
  );
  assert.throws(
    () => legacyToFlat({ "(0008,0080)": "(0008, 0080) Institution Name LO: 'unterminated" }),
    /unterminated '-quoted value/,
  );
  assert.throws(() => legacyToFlat({ "(0008,0080)": 12 }), /expected a string/);
});

async function readAll(text: string | Buffer[], name?: string): Promise<InputRecord[]> {
  const chunks = typeof text === "string" ? [Buffer.from(text)] : text;
  const out: InputRecord[] = [];
  if (name) {
    for await (const b of readAnalysisBatches([name], { stdin: Readable.from([]) })) out.push(...b);
    return out;
  }
  for await (const b of readAnalysisBatches([], { stdin: Readable.from(chunks) })) out.push(...b);
  return out;
}

function chunked(text: string, size: number): Buffer[] {
  const b = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

const legacyFile = `[
    {
        "(0008,0080)": "(0008, 0080) Institution Name                    LO: 'A \\"quoted\\" [name] {x}'",
        "(0020,000D)": "(0020, 000D) Study Instance UID                  UI: 1.2.3"
    },
    {
        "(0008,0080)": "(0008, 0080) Institution Name                    LO: 'B'",
        "(0020,000D)": "(0020, 000D) Study Instance UID                  UI: 1.2.4"
    }
]
`;

test("analysis input: a JSON array streams element by element with their starting lines, in any chunking", async () => {
  for (const size of [1, 3, 7, 4096]) {
    const recs = await readAll(chunked(legacyFile, size));
    assert.deepEqual(
      recs.map((r) => [r.line, r.record]),
      [
        [2, { InstitutionName: 'A "quoted" [name] {x}', StudyInstanceUID: "1.2.3" }],
        [6, { InstitutionName: "B", StudyInstanceUID: "1.2.4" }],
      ],
      `chunk size ${size}`,
    );
  }
});

test("analysis input: NDJSON flat and PS3.18 records, CSV, and a legacy record per NDJSON line", async () => {
  const nd =
    '{"InstitutionName":"A","StudyDate":"20240101"}\n' +
    '{"00080080":{"vr":"LO","Value":["B"]},"00080020":{"vr":"DA","Value":["20240102"]}}\n' +
    '{"(0008,0080)":"(0008,0080) Institution Name LO: \'C\'"}\n';
  assert.deepEqual(
    (await readAll(nd)).map((r) => r.record),
    [
      { InstitutionName: "A", StudyDate: "20240101" },
      { StudyDate: "20240102", InstitutionName: "B" },
      { InstitutionName: "C" },
    ],
  );
  const csv = 'InstitutionName,StudyDate\n"X, Y",20240101\n';
  assert.deepEqual(
    (await readAll(csv)).map((r) => r.record),
    [{ InstitutionName: "X, Y", StudyDate: "20240101" }],
  );
  assert.deepEqual(await readAll(""), []);
});

async function inputError(text: string): Promise<InputError> {
  try {
    await readAll(text);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e;
  }
  assert.fail("no error");
}

test("analysis input: malformed input names the line and what was expected", async () => {
  assert.equal(
    (await inputError('{"a":1}\n{"b":\n')).message,
    "stdin:2: invalid JSON: " +
      (() => {
        try {
          JSON.parse('{"b":');
        } catch (e) {
          return (e as Error).message;
        }
      })(),
  );
  let e = await inputError(legacyFile.replace("UI: 1.2.4", "UI 1.2.4"));
  assert.match(e.message, /^stdin:8: \(0020,000D\): expected a pydicom element string like/);
  e = await inputError('[\n  {"a": 1},\n  2\n]');
  assert.equal(e.message, 'stdin:3: element 2 of the JSON array is not an object (expected "{")');
  e = await inputError('[\n  {"a": 1}\n');
  assert.equal(
    e.message,
    'stdin:3: unexpected end of input: the JSON array is not closed with "]"',
  );
  e = await inputError('[\n  {"a": 1},\n  {"b": }\n]');
  assert.match(e.message, /^stdin:3: invalid JSON in element 2 of the array/);
  e = await inputError('[{"a":1}] x');
  assert.match(e.message, /^stdin:1: unexpected data after the end of the JSON array/);
});

test("analysis input: files by name; a missing file or a terminal on stdin is an input error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "analysis-"));
  writeFileSync(join(dir, "a.json"), legacyFile);
  assert.equal((await readAll([], join(dir, "a.json"))).length, 2);
  await assert.rejects(readAll([], join(dir, "nope.json")), /nope\.json: no such file/);
  const tty = Object.assign(Readable.from([]), { isTTY: true });
  await assert.rejects(async () => {
    for await (const _ of readAnalysisBatches([], { stdin: tty })) void _;
  }, /stdin: no input/);
});

test("dates, times and weekdays", () => {
  assert.equal(formatDicomDate(parseDicomDate("20240229")!), "20240229");
  assert.equal(parseDicomDate("20230229"), undefined);
  assert.equal(parseDicomDate("2024.03.01"), parseDicomDate("20240301"));
  assert.equal(parseDicomDate("2024-03-01"), parseDicomDate("20240301"));
  assert.equal(parseDicomDate(""), undefined);
  assert.equal(parseDicomDate(null), undefined);
  assert.equal(isoWeekday(parseDicomDate("20240101")!), 0); // a Monday
  assert.equal(isoWeekday(parseDicomDate("20231231")!), 6); // a Sunday
  assert.equal(isoWeekday(dayNumber(1969, 12, 31)!), 2); // a Wednesday, before the epoch
  assert.equal(parseDicomHour("083000"), 8);
  assert.equal(parseDicomHour("0830"), 8);
  assert.equal(parseDicomHour("23"), 23);
  assert.equal(parseDicomHour("235959.123456"), 23);
  assert.equal(parseDicomHour("08:30:00"), 8);
  assert.equal(parseDicomHour("2400"), undefined);
  assert.equal(parseDicomHour("0860"), undefined);
  assert.equal(parseDicomHour("x"), undefined);
});

test("time windows: pacsalyzer's two boundary rules, N days, since/until, usage errors", () => {
  const d = (s: string) => parseDicomDate(s)!;
  // now = 2024-03-31; 90 days before = 2024-01-01.
  const ex = resolveWindow({ now: "20240331" }, "exclusive");
  assert.equal(inWindow(ex, d("20240101")), false);
  assert.equal(inWindow(ex, d("20240102")), true);
  assert.equal(inWindow(ex, d("20250101")), true); // after now: kept, as the seed does
  assert.equal(inWindow(ex, undefined), false);
  const inc = resolveWindow({ now: "20240331" }, "inclusive");
  assert.equal(inWindow(inc, d("20240101")), true);
  assert.equal(inWindow(inc, d("20231231")), false);
  assert.equal(
    resolveWindow({ now: "20240331", timeframe: "6m" }, "exclusive").start,
    d("20240331") - 179,
  );
  assert.equal(
    resolveWindow({ now: "20240331", timeframe: "1m" }, "inclusive").start,
    d("20240301"),
  );
  assert.equal(
    resolveWindow({ now: "20240331", timeframe: "14d" }, "exclusive").start,
    d("20240318"),
  );
  const all = resolveWindow({ timeframe: "all" }, "exclusive");
  assert.ok(inWindow(all, undefined) && inWindow(all, 0));
  const su = resolveWindow({ since: "20240105", until: "20240110" }, "exclusive");
  assert.deepEqual(
    [
      inWindow(su, d("20240104")),
      inWindow(su, d("20240105")),
      inWindow(su, d("20240110")),
      inWindow(su, d("20240111")),
    ],
    [false, true, true, false],
  );
  assert.equal(su.label, "20240105-20240110");
  assert.throws(() => resolveWindow({ timeframe: "2y" }, "exclusive"), UsageError);
  assert.throws(() => resolveWindow({ timeframe: "0d" }, "exclusive"), UsageError);
  assert.throws(
    () => resolveWindow({ timeframe: "3m", since: "20240101" }, "exclusive"),
    /cannot be combined/,
  );
  assert.throws(
    () => resolveWindow({ now: "20241301" }, "exclusive"),
    /--now: expected a date YYYYMMDD/,
  );
  assert.throws(
    () => resolveWindow({ since: "20240201", until: "20240101" }, "exclusive"),
    /is after/,
  );
});

test("--by keys and column titles", () => {
  assert.deepEqual(parseAnalysisKeys("InstitutionName, Modality", "--by"), [
    "InstitutionName",
    "Modality",
  ]);
  assert.throws(
    () => parseAnalysisKeys("institutionname", "--by"),
    /unknown attribute "institutionname" \(did you mean InstitutionName\?\)/,
  );
  assert.equal(displayName("InstitutionName"), "Institution Name");
  assert.equal(displayName("StudyInstanceUID"), "Study Instance UID");
  assert.equal(displayName("00091010"), "00091010");
});

test("DistinctSet: exact membership over a million strings, growing from a small table", () => {
  const s = new DistinctSet(16);
  let fresh = 0;
  for (let i = 0; i < 1_000_000; i++) if (s.add(`1.2.826.0.1.3680043.8.498.${i}`)) fresh++;
  assert.equal(fresh, 1_000_000);
  let again = 0;
  for (let i = 0; i < 1_000_000; i += 7) if (s.add(`1.2.826.0.1.3680043.8.498.${i}`)) again++;
  assert.equal(again, 0);
  assert.equal(s.size, 1_000_000);
});

test("DistinctSet: pairs are members as pairs, whatever the split of their text", () => {
  const s = new DistinctSet();
  assert.equal(s.addPair("ab", "c"), true);
  assert.equal(s.addPair("a", "bc"), true);
  assert.equal(s.addPair("", "abc"), true);
  assert.equal(s.add("abc"), false); // add(x) is the pair ("", x)
  assert.equal(s.addPair("ab", "c"), false);
  assert.equal(s.size, 3);
  // Many pairs under few first strings (the group names), each counted once.
  let fresh = 0;
  for (let i = 0; i < 200_000; i++) if (s.addPair(`group ${i % 7}`, `1.2.${i}`)) fresh++;
  for (let i = 0; i < 200_000; i += 3) if (s.addPair(`group ${i % 7}`, `1.2.${i}`)) fresh++;
  assert.equal(fresh, 200_000);
});

test("DistinctSet: number-and-string pairs, over the whole range of day numbers and hours", () => {
  const s = new DistinctSet();
  let fresh = 0;
  // Slots (day × 24 + hour) from year 0 to 9999, negative too, each with a few UIDs.
  for (let slot = -17_000_000; slot < 70_000_000; slot += 997)
    for (const uid of ["1.2", "1.3", ""]) if (s.addNumberPair(slot, uid)) fresh++;
  const members = fresh;
  for (let slot = -17_000_000; slot < 70_000_000; slot += 997 * 5)
    if (s.addNumberPair(slot, "1.3")) fresh++;
  assert.equal(fresh, members);
  assert.equal(s.addNumberPair(2 ** 32 + 5, "1.2"), true); // beyond 32 bits
  assert.equal(s.addNumberPair(5, "1.2"), true);
  assert.equal(s.addNumberPair(2 ** 32 + 5, "1.2"), false);
});
