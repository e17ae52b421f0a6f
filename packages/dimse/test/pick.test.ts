// The analysis tools' NDJSON fast path (FieldPicker) against the full
// parse: JSON.parse and the normaliser are the reference, line by line and
// through the reader, on awkward lines and on random corruptions of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FieldPicker, readAnalysisBatches } from "../src/io/index.js";
import { toAnalysisRecord, type FlatRecord } from "../src/records/index.js";

const FIELDS = ["StudyInstanceUID", "InstitutionName", "StudyDate", "ModalitiesInStudy", "status"];

/** What the full parse gives for the wanted keys; undefined when the line is not a record. */
function reference(line: string, fields = FIELDS): FlatRecord | undefined {
  let rec: FlatRecord;
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    rec = toAnalysisRecord(v as FlatRecord);
  } catch {
    return undefined;
  }
  const out: FlatRecord = {};
  for (const k of fields) if (rec[k] !== undefined) out[k] = rec[k];
  return out;
}

function pick(line: string | Buffer, fields = FIELDS): FlatRecord | undefined {
  const b = typeof line === "string" ? Buffer.from(line) : line;
  // In the middle of a larger buffer, as the reader sees it.
  const padded = Buffer.concat([Buffer.from('{"x":1}\n'), b, Buffer.from('\n{"y":"z"}')]);
  return new FieldPicker(fields).pick(padded, 8, 8 + b.length);
}

/** Lines the fast path takes. */
const SIMPLE = [
  '{"StudyDate":"20240101","InstitutionName":"Hôpital Sainte-Élise","StudyInstanceUID":"1.2.3"}',
  '{ "InstitutionName" : "A" ,\t"StudyDate" :"20240101" }',
  '  {"StudyInstanceUID":"1.2","PatientName":"Doe^J","NumberOfStudyRelatedInstances":12}\r',
  '{"StudyDate":20240101,"InstitutionName":null,"x":true,"y":false,"z":-1.5e+3}',
  '{"ModalitiesInStudy":["CT","MR",null,3],"StudyInstanceUID":"9"}',
  '{"ModalitiesInStudy":[],"StudyInstanceUID":"9"}',
  '{"InstitutionName":"A","InstitutionName":"B"}', // repeated key: the last, as JSON.parse
  '{"StudyComments":"StudyInstanceUID:fake, \'StudyInstanceUID\'","StudyInstanceUID":"real"}',
  '{"StudyInstanceUID":"real","Comments":"}, \'StudyInstanceUID\':\'x"}',
  '{"status":"no-match","query":3}',
  "{}",
  '{"InstitutionName":"a/b ünïcödé 日本 😀"}',
];

/** Lines the fast path leaves to the full parse (which may accept or reject them). */
const AWKWARD = [
  '{"InstitutionName":"He said \\"hi\\"","StudyInstanceUID":"1"}', // escaped quotes
  '{"StudyComments":"\\"StudyInstanceUID\\":\\"fake\\"","StudyInstanceUID":"real"}', // a key inside a value
  '{"InstitutionName":"\\u00c9cole","StudyInstanceUID":"1"}', // unicode escape
  '{"Study\\u0049nstanceUID":"escaped key"}', // an escape in a key
  '{"InstitutionName":"raw\ttab"}', // control character in a string: invalid JSON
  '{"00080080":{"vr":"LO","Value":["DICOM JSON"]},"0020000D":{"vr":"UI","Value":["1.2"]}}',
  '{"0020000D":"1.2"}', // an 8-digit tag key
  '{"InstitutionName":"A","_vrMap":{}}',
  '{"(0008,0080)":"(0008, 0080) Institution Name LO: \'Legacy\'"}',
  '{"PatientName":{"Alphabetic":"Doe^J"},"StudyInstanceUID":"1"}', // nested object
  '{"ModalitiesInStudy":[["CT"]]}', // nested array
  '{"OtherPatientIDsSequence":[{"PatientID":"X"}]}',
  '\ufeff{"InstitutionName":"BOM"}',
  '{"InstitutionName":"A",}', // trailing comma
  '{"InstitutionName":"A"} x', // data after the object
  '{"InstitutionName":"A"}{"InstitutionName":"B"}',
  '{"InstitutionName":"A"', // unterminated
  '{"InstitutionName":01}', // leading zero
  '{"InstitutionName":1.}',
  '{"InstitutionName":-}',
  '{"InstitutionName":nul}',
  '{"InstitutionName":True}',
  "{'InstitutionName':'A'}",
  '["InstitutionName","A"]',
  '"just a string"',
  "",
  "   ",
  '{"InstitutionName" "A"}',
  '{InstitutionName:"A"}',
];

test("FieldPicker: simple lines are picked, with exactly the full parse's values", () => {
  for (const line of SIMPLE) {
    const got = pick(line);
    assert.ok(got, `not picked: ${line}`);
    assert.deepEqual(got, reference(line), line);
  }
  // A repeated key keeps the last value; numbers are JSON.parse's.
  assert.deepEqual(pick('{"InstitutionName":"A","InstitutionName":"B"}'), {
    InstitutionName: "B",
  });
  assert.deepEqual(pick('{"StudyDate":20240101,"status":-0}'), { StudyDate: 20240101, status: -0 });
  // The keys not asked for are skipped, not returned.
  assert.deepEqual(pick('{"PatientID":"P","StudyInstanceUID":"1"}'), { StudyInstanceUID: "1" });
});

test("FieldPicker: awkward lines go to the full parse", () => {
  for (const line of AWKWARD) assert.equal(pick(line), undefined, line);
});

test("FieldPicker: invalid UTF-8 decodes as the full parse decodes it", () => {
  const line = Buffer.concat([
    Buffer.from('{"InstitutionName":"a'),
    Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0xff]),
    Buffer.from('b","StudyInstanceUID":"1"}'),
  ]);
  assert.deepEqual(pick(line), reference(line.toString("utf8")));
});

test("FieldPicker: random corruptions of lines agree with the full parse or are left to it", () => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const alphabet = ' \t\r{}[]":,\\-+.0123456789eEnulltrufasAZ\u00e9\u0001';
  const base = [...SIMPLE, ...AWKWARD];
  let picked = 0;
  for (let n = 0; n < 20_000; n++) {
    let s = base[rand(base.length)]!;
    for (let k = 1 + rand(3); k > 0; k--) {
      const at = rand(s.length + 1);
      const op = rand(3);
      const ch = alphabet[rand(alphabet.length)]!;
      s =
        op === 0
          ? s.slice(0, at) + ch + s.slice(at)
          : op === 1
            ? s.slice(0, at) + s.slice(at + 1)
            : s.slice(0, at) + ch + s.slice(at + 1);
    }
    // The reader sees bytes: a broken surrogate pair is U+FFFD in them.
    const bytes = Buffer.from(s);
    const got = pick(bytes);
    if (got === undefined) continue;
    picked++;
    assert.deepEqual(got, reference(bytes.toString("utf8")), `line: ${JSON.stringify(s)}`);
  }
  // Many corruptions keep the simple shape: the comparison is not vacuous.
  assert.ok(picked > 2000, `${picked} picked`);
});

test("FieldPicker: keys it cannot pick are refused", () => {
  assert.throws(() => new FieldPicker(["__proto__"]), /cannot pick/);
  assert.throws(() => new FieldPicker(["Instituti\u00f6n"]), /cannot pick/);
});

test("readAnalysisBatches with fields: the same records as without, over any chunking, from a file or stdin", async () => {
  const lines = [
    '{"StudyDate":"20240101","InstitutionName":"A","StudyInstanceUID":"1.1","PatientID":"P"}',
    ...SIMPLE.filter((l) => l.trim() !== ""),
    ...AWKWARD.filter((l) => reference(l) !== undefined && !l.startsWith("\ufeff")),
    "",
    '{"InstitutionName":"last, no newline"}',
  ];
  const text = lines.join("\n");
  const dir = mkdtempSync(join(tmpdir(), "pick-"));
  const file = join(dir, "records.ndjson");
  writeFileSync(file, text);
  const restrict = (r: FlatRecord) => {
    const out: FlatRecord = {};
    for (const k of FIELDS) if (r[k] !== undefined) out[k] = r[k];
    return out;
  };
  const read = async (paths: string[], chunks: Buffer[], fields?: string[]) => {
    const out: Array<[number, FlatRecord]> = [];
    for await (const b of readAnalysisBatches(paths, { stdin: Readable.from(chunks) }, fields))
      for (const r of b) out.push([r.line, restrict(r.record)]);
    return out;
  };
  const bytes = Buffer.from(text);
  const full = await read([], [bytes]);
  assert.equal(full.length, lines.length - 1); // the blank line
  assert.deepEqual(full.at(-1), [lines.length, { InstitutionName: "last, no newline" }]);
  for (const size of [1, 3, 17, 100, 1 << 20]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    assert.deepEqual(await read([], chunks, FIELDS), full, `chunks of ${size}`);
  }
  assert.deepEqual(await read([file], [], FIELDS), full);
  assert.deepEqual(await read([file], []), full);
});

test("files of several MiB (read into reused buffers) give the records stdin gives, in every format", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pick-big-"));
  const n = 10_000;
  // Long enough rows that each file spans several 1 MiB chunks.
  const pad = "x".repeat(300);
  const uid = (i: number) => `1.2.826.0.1.3680043.8.498.${i}`;
  const inst = (i: number) => ["Hôpital Sainte-Élise", 'St. "Mary"', "A, B"][i % 3]!;
  const ndjsonLines: string[] = [];
  const csvRows = ["StudyInstanceUID,InstitutionName,StudyDate,StudyDescription"];
  const tsvRows = ["StudyInstanceUID\tInstitutionName\tStudyDate\tStudyDescription"];
  const array: unknown[] = [];
  const legacy: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const date = `2024${String((i % 12) + 1).padStart(2, "0")}15`;
    ndjsonLines.push(
      i % 5 === 0
        ? JSON.stringify({
            "0020000D": { vr: "UI", Value: [uid(i)] },
            "00080080": { vr: "LO", Value: [inst(i)] },
            "00081030": { vr: "LO", Value: [pad] },
          })
        : JSON.stringify({
            StudyInstanceUID: uid(i),
            InstitutionName: inst(i),
            StudyDate: date,
            PatientComments: pad.slice(i % 50),
          }),
    );
    csvRows.push(`${uid(i)},"${inst(i).replace(/"/g, '""')}",${date},${pad}`);
    tsvRows.push(`${uid(i)}\t${inst(i)}\t${date}\t${pad}`);
    array.push({ StudyInstanceUID: uid(i), InstitutionName: inst(i), StudyDescription: pad });
    legacy.push({
      "(0008,0080)": `(0008, 0080) Institution Name LO: '${inst(i)}'`,
      "(0020,000D)": `(0020, 000D) Study Instance UID UI: ${uid(i)}`,
      "(0008,1030)": `(0008, 1030) Study Description LO: '${pad}'`,
    });
  }
  const inputs: Array<[string, string]> = [
    ["records.ndjson", `${ndjsonLines.join("\n")}\n`],
    ["records.csv", `${csvRows.join("\r\n")}\r\n`],
    ["records.tsv", `${tsvRows.join("\n")}\n`],
    ["array.json", JSON.stringify(array, null, 1)],
    ["pacsalyzer.json", JSON.stringify(legacy, null, 2)],
  ];
  for (const [name, text] of inputs) {
    assert.ok(text.length > 2.5 * 2 ** 20, `${name} spans several 1 MiB chunks`);
    const file = join(dir, name);
    writeFileSync(file, text);
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 65_521) chunks.push(bytes.subarray(i, i + 65_521));
    const fromStdin: FlatRecord[] = [];
    for await (const b of readAnalysisBatches([], { stdin: Readable.from(chunks) }))
      for (const r of b)
        fromStdin.push({
          StudyInstanceUID: r.record.StudyInstanceUID,
          InstitutionName: r.record.InstitutionName,
        });
    const fromFile: FlatRecord[] = [];
    for await (const b of readAnalysisBatches([file], { stdin: Readable.from([]) }, FIELDS))
      for (const r of b)
        fromFile.push({
          StudyInstanceUID: r.record.StudyInstanceUID,
          InstitutionName: r.record.InstitutionName,
        });
    assert.equal(fromStdin.length, n, name);
    assert.equal(fromStdin[n - 1]!.StudyInstanceUID, uid(n - 1), name);
    assert.equal(fromStdin[7]!.InstitutionName, inst(7), name);
    assert.deepEqual(fromFile, fromStdin, name);
  }
});
