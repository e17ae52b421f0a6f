// Record input and output (src/io/input.ts, output.ts). CSV expectations
// follow RFC 4180 and are cross-checked with Python's csv module when
// python3 is available.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { PassThrough, Readable, Writable } from "node:stream";
import {
  excelCell,
  InputError,
  isDevNull,
  RecordWriter,
  Sink,
  batchInput,
  readRecords,
  splitLines,
  splitLineSpans,
  type InputFormat,
  type InputRecord,
} from "../src/io/index.js";

/** All records from text delivered in the given chunks (default: one per byte group). */
async function read(
  chunks: Array<string | Buffer>,
  name = "stdin",
  format?: InputFormat,
): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const r of readRecords(
    Readable.from(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c))),
    { name, format },
  ))
    out.push(r);
  return out;
}

/** Split text into small chunks so line handling across chunk borders is exercised. */
function chunked(text: string | Buffer, size = 3): Buffer[] {
  const b = typeof text === "string" ? Buffer.from(text) : text;
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function readError(
  chunks: Array<string | Buffer>,
  name = "stdin",
  format?: InputFormat,
): Promise<InputError> {
  try {
    await read(chunks, name, format);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e;
  }
  assert.fail("expected an InputError");
}

// ---------------------------------------------------------------- NDJSON input

test("NDJSON: one record per line with its line number, across chunk borders", async () => {
  const text = '{"PatientID":"A"}\n{"PatientID":"B","count":2}\n{"PatientName":"Müller^Jürgen"}\n';
  for (const chunks of [[text], chunked(text, 1), chunked(text, 7)]) {
    const recs = await read(chunks);
    assert.deepEqual(
      recs.map((r) => [r.line, r.record]),
      [
        [1, { PatientID: "A" }],
        [2, { PatientID: "B", count: 2 }],
        [3, { PatientName: "Müller^Jürgen" }], // UTF-8 split across chunks
      ],
    );
    assert.ok(recs.every((r) => r.source === "stdin"));
  }
});

test("NDJSON: CRLF, BOM, blank lines, no final newline", async () => {
  const text = '\uFEFF{"a":1}\r\n\r\n   \n{"b":2}\r\n{"c":3}';
  const recs = await read(chunked(text, 2));
  assert.deepEqual(
    recs.map((r) => [r.line, r.record]),
    [
      [1, { a: 1 }],
      [4, { b: 2 }],
      [5, { c: 3 }],
    ],
  );
  // a BOM with the first record split right after it
  assert.deepEqual(
    (await read([Buffer.from([0xef, 0xbb, 0xbf]), '{"x":1}\n'])).map((r) => r.record),
    [{ x: 1 }],
  );
});

test("NDJSON: errors name the source and line", async () => {
  let e = await readError(['{"a":1}\n{"b":2,}\n'], "in.ndjson");
  assert.equal(e.line, 2);
  assert.match(e.message, /^in\.ndjson:2: invalid JSON: /);
  e = await readError(['{"a":1}\n\n"text"\n']);
  assert.equal(e.message, "stdin:3: expected a JSON object per line, got string");
  e = await readError(['{"a":1}\nnull\n']);
  assert.match(e.message, /^stdin:2: expected a JSON object per line, got null/);
});

test("NDJSON: a JSON array line is rejected with a hint (not exploded)", async () => {
  const e = await readError(['{"a":1}\n[{"b":2},{"c":3}]\n']);
  assert.equal(
    e.message,
    "stdin:2: expected a JSON object per line, got an array (use jq -c '.[]' to split a JSON array)",
  );
  // also when the format is known from the name or given explicitly
  assert.equal((await readError(['[{"b":2}]\n'], "x.ndjson")).line, 1);
  assert.match((await readError(['[{"b":2}]\n'], "stdin", "ndjson")).message, /jq -c/);
});

// ---------------------------------------------------------------- JSON array input

test("JSON array: elements numbered from 1; non-objects and bad JSON are errors", async () => {
  const recs = await read(chunked('[\n {"a":1},\n {"b":"x"}\n]\n', 4));
  assert.deepEqual(
    recs.map((r) => [r.line, r.record]),
    [
      [1, { a: 1 }],
      [2, { b: "x" }],
    ],
  );
  assert.deepEqual(
    (await read(['\uFEFF[{"a":1}]'])).map((r) => r.record),
    [{ a: 1 }],
  );
  assert.deepEqual(await read(["[]"]), []);
  assert.match(
    (await readError(['[{"a":1}, 3]'])).message,
    /^stdin: element 2 of the JSON array is not an object$/,
  );
  const bad = await readError(['[{"a":1},\n{"b":2,}\n]'], "q.json");
  assert.match(bad.message, /^q\.json:2: invalid JSON/);
  assert.match(
    (await readError(['{"a":1}'], "q.json", "json")).message,
    /^q\.json:1: expected a JSON array of objects$/,
  );
});

// ---------------------------------------------------------------- CSV / TSV input

test("CSV: header row, quoted fields (RFC 4180), empty cells, line numbers", async () => {
  const text =
    'PatientID,PatientName,StudyDescription\nP1,"Doe, John","He said ""hi"""\nP2,,"two\nlines"\n\nP3,X,\n';
  for (const chunks of [[text], chunked(text, 5)]) {
    const recs = await read(chunks);
    assert.deepEqual(
      recs.map((r) => r.record),
      [
        { PatientID: "P1", PatientName: "Doe, John", StudyDescription: 'He said "hi"' },
        { PatientID: "P2", PatientName: "", StudyDescription: "two\nlines" },
        { PatientID: "P3", PatientName: "X", StudyDescription: "" },
      ],
    );
    assert.equal(recs[0]!.line, 2);
    assert.equal(recs[2]!.line, 6);
  }
});

test("CSV: BOM, CRLF, header cells trimmed, onHeader sees the header", async () => {
  let header: string[] | undefined;
  const recs: InputRecord[] = [];
  const stream = Readable.from([Buffer.from("\uFEFF PatientID , StudyDate\r\nP1,20240131\r\n")]);
  for await (const r of readRecords(stream, { name: "q.csv", onHeader: (h) => (header = h) }))
    recs.push(r);
  assert.deepEqual(header, ["PatientID", "StudyDate"]);
  assert.deepEqual(
    recs.map((r) => r.record),
    [{ PatientID: "P1", StudyDate: "20240131" }],
  );
  // onHeader may reject the header
  await assert.rejects(async () => {
    for await (const _ of readRecords(Readable.from([Buffer.from("Bogus\nx\n")]), {
      name: "q.csv",
      onHeader: () => {
        throw new Error("bad column Bogus");
      },
    }))
      void _;
  }, /bad column Bogus/);
});

test("CSV: ragged rows are errors with the line number", async () => {
  let e = await readError(["PatientID,StudyDate\nP1,20240131\nP2,20240101,extra\n"], "q.csv");
  assert.equal(e.line, 3);
  assert.match(e.message, /^q\.csv:3: /);
  e = await readError(["PatientID,StudyDate\nP1\n"], "q.csv");
  assert.equal(e.line, 2);
  assert.match(e.message, /^q\.csv:2: no value for column StudyDate /);
  e = await readError(["PatientID,StudyDate,Modality\nP1,20240101,CT\nP2\n"], "q.csv");
  assert.match(e.message, /^q\.csv:3: no value for columns StudyDate, Modality /);
  e = await readError(["PatientID\tStudyDate\nP1\n"], "q.tsv");
  assert.match(e.message, /^q\.tsv:2: no value for column StudyDate /);
  // counted in physical lines, after a quoted field holding a newline
  e = await readError(['a,b\n"x\ny",2\n3,4,5\n'], "q.csv");
  assert.equal(e.line, 4);
});

test("CSV: several short rows end the input at the first, without hanging on a stalled feed", async () => {
  // Many chunks after the bad row: the feed must not wait for a drain that never comes.
  const text = `PatientID,StudyDate\nDP000001\nDP000002\n${"P,1\n".repeat(50000)}`;
  const e = await readError(chunked(text, 64), "r.csv");
  assert.equal(e.line, 2);
  assert.match(e.message, /no value for column StudyDate/);
});

test("CSV and NDJSON: with onInvalid, malformed rows are reported and skipped", async () => {
  const bad: string[] = [];
  const recs: InputRecord[] = [];
  const csv = "PatientID,StudyDate\nP1,20240101\nP2\nP3,20240103,x\nP4,20240104\n";
  for await (const r of readRecords(Readable.from([Buffer.from(csv)]), {
    name: "r.csv",
    onInvalid: (e) => bad.push(e.message),
  }))
    recs.push(r);
  assert.deepEqual(
    recs.map((r) => r.record.PatientID),
    ["P1", "P4"],
  );
  assert.deepEqual(
    bad.map((m) => m.split(":").slice(0, 2).join(":")),
    ["r.csv:3", "r.csv:4"],
  );
  bad.length = 0;
  const nd = '{"a":1}\n{"a":\n{"a":3}\n';
  const got: number[] = [];
  for await (const r of readRecords(Readable.from([Buffer.from(nd)]), {
    name: "x.ndjson",
    onInvalid: (e) => bad.push(e.message),
  }))
    got.push(r.line);
  assert.deepEqual(got, [1, 3]);
  assert.match(bad[0]!, /^x\.ndjson:2: invalid JSON/);
});

test("batchInput: --keep-going skips short rows; without it the first one stops the run", async () => {
  const csv = "PatientID,StudyDate\nP1,20240101\nP2\nP3,20240103\n";
  const skipped: number[] = [];
  const ids: unknown[] = [];
  for await (const id of batchInput(
    "-",
    Readable.from([Buffer.from(csv)]),
    { keepGoing: true, onInvalid: (e) => skipped.push(e.line!) },
    (r) => r.PatientID,
  ))
    ids.push(id);
  assert.deepEqual(ids, ["P1", "P3"]);
  assert.deepEqual(skipped, [3]);
  await assert.rejects(async () => {
    for await (const _ of batchInput(
      "-",
      Readable.from([Buffer.from(csv)]),
      { keepGoing: false },
      (r) => r,
    ))
      void _;
  }, /stdin:3: no value for column StudyDate/);
});

test("CSV: a long table read in many small chunks leaves no listeners behind (no MaxListenersExceededWarning)", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  try {
    const rows = Array.from({ length: 20000 }, (_, i) => `P${i},2024010${i % 9}`).join("\n");
    const chunks = chunked(`PatientID,StudyDate\n${rows}\n`, 64);
    let n = 0;
    for await (const _ of readRecords(Readable.from(chunks), { name: "t.csv" })) n++;
    assert.equal(n, 20000);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("warning", onWarning);
  }
  assert.deepEqual(warnings, []);
});

test("batchInput: records reporting a row that found nothing (status no-match, failed) are skipped", async () => {
  const nd =
    '{"query":1,"AccessionNumber":"A","status":"no-match"}\n{"query":2,"AccessionNumber":"B","status":"failed"}\n{"StudyInstanceUID":"1.2","status":"Failure"}\n';
  const got: unknown[] = [];
  for await (const r of batchInput(
    "-",
    Readable.from([Buffer.from(nd)]),
    { keepGoing: false },
    (r) => r,
  ))
    got.push(r);
  assert.deepEqual(got, [{ StudyInstanceUID: "1.2", status: "Failure" }]);
});

// ---------------------------------------------------------------- lines

test("splitLines: lines across chunks, numbered; a line over the maximum is an error naming it", async () => {
  const lines: Array<[number, string]> = [];
  for await (const b of splitLines(Readable.from(chunked("ab\ncd\n\nef", 1)), { name: "s" }))
    b.lines.forEach((l, i) => lines.push([b.first + i, l]));
  assert.deepEqual(lines, [
    [1, "ab"],
    [2, "cd"],
    [3, ""],
    [4, "ef"],
  ]);
  const long = async (chunks: Buffer[]) => {
    try {
      for await (const _ of splitLines(Readable.from(chunks), {
        name: "big.ndjson",
        maxLineBytes: 10,
      }))
        void _;
    } catch (e) {
      return e as InputError;
    }
    assert.fail("expected an InputError");
  };
  // the long line arriving in pieces, in one piece in the middle of a chunk, and unterminated
  for (const text of ["x\n0123456789A\ny\n", "x\n0123456789A", "x\n0123456789\n0123456789AB\n"]) {
    for (const size of [1, 4, 100]) {
      const e = await long(chunked(text, size));
      assert.ok(e instanceof InputError);
      assert.match(e.message, /^big\.ndjson:(2|3): line longer than 10 bytes/);
    }
  }
  assert.equal((await long(chunked("x\n0123456789\n0123456789AB\n", 5))).line, 3);
  // exactly the maximum is accepted
  let n = 0;
  for await (const b of splitLines(Readable.from(chunked("0123456789\n0123456789", 3)), {
    name: "s",
    maxLineBytes: 10,
  }))
    n += b.lines.length;
  assert.equal(n, 2);
});

test("splitLines, splitLineSpans: a chunk may be a reused buffer (overwritten once the next is asked for)", async () => {
  const text = `first line\nsecond, longer line\n\n${"x".repeat(40)}\nlast`;
  const expected = text.split("\n");
  /** The text in pieces of `size` bytes, each in the same buffer, scribbled over after use. */
  async function* reused(size: number): AsyncGenerator<Buffer> {
    const buf = Buffer.alloc(size);
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += size) {
      const n = bytes.copy(buf, 0, i, i + size);
      yield buf.subarray(0, n);
      buf.fill("?");
    }
  }
  for (const size of [1, 3, 7, 16, 100]) {
    const lines: string[] = [];
    for await (const b of splitLines(reused(size), { name: "s" })) lines.push(...b.lines);
    assert.deepEqual(lines, expected, `pieces of ${size}`);
    const spans: string[] = [];
    for await (const { buf, start, ends } of splitLineSpans(reused(size), { name: "s" })) {
      let s = start;
      for (const e of ends) {
        spans.push(buf.toString("utf8", s, e));
        s = e + 1;
      }
    }
    assert.deepEqual(spans, expected, `spans, pieces of ${size}`);
  }
});

test("TSV: detected from tabs or the name; quotes are literal; a tab-free first line is CSV", async () => {
  const text = 'PatientID\tPatientName\nP1\t"Doe, John"\nP2\tRoe^R\n';
  const recs = await read([text]);
  assert.deepEqual(
    recs.map((r) => r.record),
    [
      { PatientID: "P1", PatientName: '"Doe, John"' },
      { PatientID: "P2", PatientName: "Roe^R" },
    ],
  );
  assert.deepEqual(
    (await read(["PatientID,x\tz\n1,2\n"])).map((r) => r.record),
    [{ PatientID: "1", "x\tz": "2" }],
  );
  assert.deepEqual(
    (await read(["PatientID\n1\n"], "list.tsv")).map((r) => r.record),
    [{ PatientID: "1" }],
  );
  assert.deepEqual(
    (await read(["a,b\n1,2\n"], "stdin", "tsv")).map((r) => r.record),
    [{ "a,b": "1,2" }],
  );
});

// ---------------------------------------------------------------- output

class Collect extends Writable {
  chunks: Buffer[] = [];
  writes = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    this.writes++;
    cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

const RECORDS = [
  {
    status: "Pending",
    PatientName: "Doe, John",
    StudyDescription: 'He said "hi"',
    ImageComments: "two\nlines",
    ModalitiesInStudy: ["CT", "MR"],
    PatientID: null,
  },
  {
    status: "Pending",
    PatientName: "Roe^R",
    ModalitiesInStudy: ["SR"],
    PatientID: "P2",
    NumberOfStudyRelatedInstances: 42,
    "00091001": { vr: "LO", Value: ["x"] },
  },
];

test("RecordWriter NDJSON: whole lines per write (coalesced), keys in record order", async () => {
  const out = new Collect();
  const w = new RecordWriter(out);
  for (const r of RECORDS) await w.write(r);
  await w.end();
  // Records written in one event-loop turn are coalesced into one system call;
  // a line is never split across writes.
  assert.equal(out.writes, 1);
  assert.equal(w.count, 2);
  assert.equal(
    out.text,
    '{"status":"Pending","ModalitiesInStudy":["CT","MR"],"StudyDescription":"He said \\"hi\\"","PatientName":"Doe, John","PatientID":null,"ImageComments":"two\\nlines"}\n' +
      '{"status":"Pending","ModalitiesInStudy":["SR"],"00091001":{"vr":"LO","Value":["x"]},"PatientName":"Roe^R","PatientID":"P2","NumberOfStudyRelatedInstances":42}\n',
  );
  // and it reads back
  assert.deepEqual(
    (await read([out.text])).map((r) => r.record),
    RECORDS.map((r) => JSON.parse(JSON.stringify(r))),
  );
});

test("RecordWriter CSV: RFC 4180 quoting, arrays joined with '\\', null → empty, columns from the first record", async () => {
  const out = new Collect();
  const dropped: string[] = [];
  const w = new RecordWriter(out, { format: "csv", onDroppedKey: (k) => dropped.push(k) });
  for (const r of RECORDS) await w.write(r);
  await w.write({ PatientID: "P3", Extra: 1 });
  await w.end();
  const expected =
    "status,ModalitiesInStudy,StudyDescription,PatientName,PatientID,ImageComments\n" +
    'Pending,CT\\MR,"He said ""hi""","Doe, John",,"two\nlines"\n' +
    "Pending,SR,,Roe^R,P2,\n" +
    ",,,,P3,\n";
  assert.equal(out.text, expected);
  assert.deepEqual(dropped, ["NumberOfStudyRelatedInstances", "00091001", "Extra"]); // in the order first seen
  // our reader reads it back
  const back = await read([out.text], "out.csv");
  assert.deepEqual(back[0]!.record, {
    status: "Pending",
    ModalitiesInStudy: "CT\\MR",
    StudyDescription: 'He said "hi"',
    PatientName: "Doe, John",
    PatientID: "",
    ImageComments: "two\nlines",
  });
  // an independent CSV reader agrees
  const py = spawnSync(
    "python3",
    ["-c", "import csv,sys,json; print(json.dumps(list(csv.reader(sys.stdin))))"],
    { input: out.text, encoding: "utf8" },
  );
  if (!py.error && py.status === 0) {
    assert.deepEqual(JSON.parse(py.stdout), [
      [
        "status",
        "ModalitiesInStudy",
        "StudyDescription",
        "PatientName",
        "PatientID",
        "ImageComments",
      ],
      ["Pending", "CT\\MR", 'He said "hi"', "Doe, John", "", "two\nlines"],
      ["Pending", "SR", "", "Roe^R", "P2", ""],
      ["", "", "", "", "P3", ""],
    ]);
  }
});

test("RecordWriter CSV/TSV: fixed columns, objects as JSON, header only for an empty result", async () => {
  const out = new Collect();
  const w = new RecordWriter(out, {
    format: "csv",
    columns: ["query", "PatientID", "OtherPatientIDsSequence", "00091001"],
  });
  await w.write({
    query: 1,
    PatientID: "P1",
    OtherPatientIDsSequence: [{ PatientID: "X" }],
    "00091001": { vr: "LO", Value: ["v"] },
  });
  await w.end();
  assert.equal(
    out.text,
    'query,PatientID,OtherPatientIDsSequence,00091001\n1,P1,"[{""PatientID"":""X""}]","{""vr"":""LO"",""Value"":[""v""]}"\n',
  );
  const empty = new Collect();
  const e = new RecordWriter(empty, { format: "tsv" });
  await e.writeHeader(["PatientID", "StudyDate"]);
  await e.writeHeader(["ignored"]);
  await e.end();
  assert.equal(empty.text, "PatientID\tStudyDate\n");
  const none = new Collect();
  const n = new RecordWriter(none, { format: "csv", header: false });
  await n.write({ PatientID: "P1", StudyDate: "20240131" });
  await n.end();
  assert.equal(none.text, "20240131,P1\n");
});

test('RecordWriter excel: BOM once, CRLF, CSV quoting, risky text as ="…", numbers as numbers, header only for an empty result', async () => {
  const out = new Collect();
  const w = new RecordWriter(out, {
    format: "csv",
    excel: true,
    columns: ["PatientName", "PatientID", "StudyDate", "ImageComments", "Count"],
  });
  await w.write({
    PatientName: "MÜLLER^HANS",
    PatientID: "00123",
    StudyDate: "20240101",
    ImageComments: 'two\nlines, "q"',
    Count: 7,
  });
  await w.write({
    PatientName: '=HYPERLINK("x")',
    PatientID: "ABC",
    StudyDate: null,
    ImageComments: "",
    Count: -1,
  });
  await w.end();
  assert.equal(
    out.text,
    "\uFEFFPatientName,PatientID,StudyDate,ImageComments,Count\r\n" +
      'MÜLLER^HANS,"=""00123""","=""20240101""","two\nlines, ""q""",7\r\n' +
      '"=""=HYPERLINK(""""x"""")""",ABC,,,-1\r\n',
  );
  const empty = new Collect();
  const e = new RecordWriter(empty, { format: "csv", excel: true });
  await e.writeHeader(["PatientID"]);
  await e.end();
  assert.equal(empty.text, "\uFEFFPatientID\r\n");
  assert.throws(() => new RecordWriter(new Collect(), { format: "tsv", excel: true }));
});

test("excelCell: which text is protected, long text in 255-character pieces, surrogate pairs kept whole", () => {
  // Text a spreadsheet would turn into a number, date, boolean, error or formula.
  for (const s of [
    "00123",
    "083000",
    "1.2.840.10008",
    ".5",
    "(5)",
    "$5",
    "€5",
    " 7",
    "+49 30 1234",
    "-5",
    "=1+2",
    "@SUM(A1)",
    "#N/A",
    "\tx",
    "\rx",
    "TRUE",
    "false",
    "Mar-5",
    "DEC1",
    "Sept 2",
    "1/2",
    "50%",
  ]) {
    assert.equal(excelCell(s), `="${s}"`, s);
  }
  // Text left alone.
  for (const s of [
    "MÜLLER^HANS",
    "山田^太郎",
    "CT\\MR",
    "ABC-1",
    "Head 2",
    "O'BRIEN",
    "ACCESSION",
    "",
  ])
    assert.equal(excelCell(s), s, s);
  assert.equal(excelCell(12), "12");
  assert.equal(excelCell(-1.5), "-1.5");
  assert.equal(excelCell(null), "");
  assert.equal(excelCell(["1", "2"]), '="1\\2"');
  assert.equal(excelCell('1"2'), '="1""2"');
  const long = `1${"x".repeat(299)}`;
  assert.equal(excelCell(long), `="${long.slice(0, 255)}"&"${long.slice(255)}"`);
  // A pair that would straddle the 255th character moves whole into the next piece.
  const pair = `1${"x".repeat(253)}😀y`;
  assert.equal(excelCell(pair), `="${pair.slice(0, 254)}"&"${pair.slice(254)}"`);
  // Too long for a formula: a leading apostrophe, visible but inert.
  const huge = `=${"x".repeat(9000)}`;
  assert.equal(excelCell(huge), `'${huge}`);
});

test("RecordWriter TSV: no quoting; tabs and newlines inside values become spaces", async () => {
  const out = new Collect();
  const w = new RecordWriter(out, { format: "tsv" });
  await w.write({
    PatientName: "Doe, John",
    StudyDescription: 'a\tb "q"',
    ImageComments: "two\r\nlines",
    ModalitiesInStudy: ["CT", "MR"],
  });
  await w.end();
  assert.equal(
    out.text,
    'ModalitiesInStudy\tStudyDescription\tPatientName\tImageComments\nCT\\MR\ta b "q"\tDoe, John\ttwo lines\n',
  );
  assert.deepEqual(
    (await read([out.text])).map((r) => r.record),
    [
      {
        ModalitiesInStudy: "CT\\MR",
        StudyDescription: 'a b "q"',
        PatientName: "Doe, John",
        ImageComments: "two lines",
      },
    ],
  );
});

test("Sink: a destroyed stream sets broken, writes return without throwing", async () => {
  const pt = new PassThrough();
  const w = new RecordWriter(pt);
  await w.write({ PatientID: "P1" });
  pt.destroy();
  await w.write({ PatientID: "P2" });
  await w.write({ PatientID: "P3" });
  assert.equal(w.sink.broken, true);
  assert.equal(w.ok, false);
  await w.end(); // no throw: a closed reader is not an error
});

test("Sink: EPIPE from a real pipe to `head -1` sets broken and stops cleanly", async (t) => {
  if (spawnSync("head", ["-n", "1"], { input: "" }).error) return t.skip("head(1) not on PATH");
  const head = spawn("head", ["-1"], { stdio: ["pipe", "pipe", "inherit"] });
  let got = "";
  head.stdout!.on("data", (d: Buffer) => (got += d.toString()));
  const w = new RecordWriter(head.stdin!);
  const closed = once(head, "close");
  let n = 0;
  // keep writing (with back-pressure) until the reader has gone away
  while (w.ok && n < 1_000_000) {
    await w.write({ PatientID: `P${n++}`, StudyDescription: "x".repeat(200) });
    if (n % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  await closed;
  await w.write({ PatientID: "after" }); // a no-op once broken
  assert.equal(w.sink.broken, true);
  assert.equal(w.sink.error, undefined);
  await w.end();
  assert.equal(got, `{"StudyDescription":"${"x".repeat(200)}","PatientID":"P0"}\n`); // tag order
});

test("Sink: other write errors are kept and reported by end()", async () => {
  const failing = new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error("disk full"), { code: "ENOSPC" }));
    },
  });
  const sink = new Sink(failing);
  const w = new RecordWriter(sink);
  await w.write({ PatientID: "P1" });
  await new Promise((r) => setImmediate(r));
  assert.equal(sink.broken, false);
  assert.match(String(sink.error?.message), /write error: disk full/);
  await assert.rejects(() => w.end(), /write error: disk full/);
});

test("isDevNull: /dev/null, not another character device (/dev/zero) nor a file", async () => {
  const { closeSync, mkdtempSync, openSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "devnull-"));
  const fds = [
    openSync("/dev/null", "w"),
    openSync("/dev/zero", "r"),
    openSync(join(dir, "f"), "w"),
  ];
  try {
    assert.deepEqual(fds.map(isDevNull), [true, false, false]);
    assert.equal(isDevNull(-1), false);
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
