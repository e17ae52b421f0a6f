// inst-count as a command. Every expected table below was worked out by
// hand from the fixture (see the comments), not taken from the tool.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ndjson, runBin, runMain } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";

const dir = mkdtempSync(join(tmpdir(), "inst-count-"));
const NOW = ["--now", "20240331"]; // 90 days before: 20240101, excluded by 3m; 20240102 is the first day in.

const rows = [
  /* 1 */ {
    InstitutionName: "Example Hospital",
    StudyDate: "20240330",
    StudyInstanceUID: "1.1",
    SeriesInstanceUID: "1.1.1",
  },
  /* 2 */ {
    InstitutionName: "Example Hospital",
    StudyDate: "20240330",
    StudyInstanceUID: "1.1",
    SeriesInstanceUID: "1.1.2",
  },
  /* 3 */ {
    InstitutionName: "Example Hospital",
    StudyDate: "20240330",
    StudyInstanceUID: "1.1",
    SeriesInstanceUID: "1.1.3",
  },
  /* 4 */ {
    InstitutionName: "  Example   Hospital ",
    StudyDate: "20240301",
    StudyInstanceUID: "1.2",
    SeriesInstanceUID: "1.2.1",
  },
  /* 5 */ {
    InstitutionName: "example hospital",
    StudyDate: "20240315",
    StudyInstanceUID: "1.3",
    SeriesInstanceUID: "1.3.1",
  },
  /* 6 */ {
    InstitutionName: "Clinic B",
    StudyDate: "20240102",
    StudyInstanceUID: "2.1",
    SeriesInstanceUID: "2.1.1",
  },
  /* 7 */ {
    InstitutionName: "Clinic B",
    StudyDate: "20240101",
    StudyInstanceUID: "2.2",
    SeriesInstanceUID: "2.2.1",
  },
  /* 8 */ { StudyDate: "20240310", StudyInstanceUID: "3.1", SeriesInstanceUID: "3.1.1" },
  /* 9 */ {
    InstitutionName: null,
    StudyDate: "20240311",
    StudyInstanceUID: "3.2",
    SeriesInstanceUID: "3.2.1",
  },
  /* 10 */ { InstitutionName: "Clinic B", StudyInstanceUID: "2.3", SeriesInstanceUID: "2.3.1" },
  /* 11 */ {
    InstitutionName: "Clinic B",
    StudyDate: "20250101",
    StudyInstanceUID: "2.4",
    SeriesInstanceUID: "2.4.1",
  },
  /* 12 */ {
    InstitutionName: "Example Hospital",
    StudyDate: "20240330",
    StudyInstanceUID: "1.1",
    SeriesInstanceUID: "1.1.1",
  },
];
const series = join(dir, "series.ndjson");
writeFileSync(series, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);

const tsv = (...lines: Array<[string, number]>) =>
  `${["Institution Name\tCount", ...lines.map(([n, c]) => `${n}\t${c}`)].join("\n")}\n`;

async function ok(args: string[], input?: string) {
  const r = await runMain(main, args, { input });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

test("default: distinct studies of the last 90 days, cleaned names, Unknown and (empty), sorted by count then name", async () => {
  // In the window: 1.1 (rows 1-3, 12), 1.2 (cleaned to Example Hospital), 1.3, 2.1, 3.1 (no name), 3.2 (empty), 2.4 (future, kept).
  // Out: 2.2 (exactly 90 days back), 2.3 (no StudyDate, noted on stderr).
  const r = await ok([...NOW, series]);
  assert.equal(
    r.stdout,
    tsv(
      ["Clinic B", 2],
      ["Example Hospital", 2],
      ["(empty)", 1],
      ["Unknown", 1],
      ["example hospital", 1],
    ),
  );
  assert.equal(
    r.stderr,
    "W: inst-count: 1 of 12 records without a usable StudyDate were left out (--timeframe all counts them)\n",
  );
});

test("stdin works like a file; -v prints a summary", async () => {
  const r = await ok([...NOW, "-v", "-"], readFileSync(series, "utf8"));
  assert.equal(
    r.stdout,
    tsv(
      ["Clinic B", 2],
      ["Example Hospital", 2],
      ["(empty)", 1],
      ["Unknown", 1],
      ["example hospital", 1],
    ),
  );
  // Rows 2, 3 and 12 repeat study 1.1.
  assert.match(
    r.stderr,
    /I: inst-count: 12 records read, 1 outside the window \(StudyDate from 20240102 to any later date\), 3 repeated studies merged; 5 rows/,
  );
  assert.match(r.stderr, /1 records dated after 20240331 were counted/);
});

test("--fold-case merges case variants under the most frequent spelling", async () => {
  // Example Hospital: studies 1.1, 1.2 spelled "Example Hospital", 1.3 spelled "example hospital" -> 3.
  const r = await ok([...NOW, "--fold-case", series]);
  assert.equal(
    r.stdout,
    tsv(["Example Hospital", 3], ["Clinic B", 2], ["(empty)", 1], ["Unknown", 1]),
  );
});

test("--per series and --per record (pacsalyzer's count)", async () => {
  // Series: Example Hospital 1.1.1, 1.1.2, 1.1.3, 1.2.1 (row 12 repeats 1.1.1) = 4.
  let r = await ok([...NOW, "--per", "series", series]);
  assert.equal(
    r.stdout,
    tsv(
      ["Example Hospital", 4],
      ["Clinic B", 2],
      ["(empty)", 1],
      ["Unknown", 1],
      ["example hospital", 1],
    ),
  );
  // Records: Example Hospital rows 1, 2, 3, 4, 12 = 5.
  r = await ok([...NOW, "--per", "record", series]);
  assert.equal(
    r.stdout,
    tsv(
      ["Example Hospital", 5],
      ["Clinic B", 2],
      ["(empty)", 1],
      ["Unknown", 1],
      ["example hospital", 1],
    ),
  );
});

test("--timeframe all, 14d, 1m and --since/--until", async () => {
  // all: Clinic B 2.1, 2.2, 2.3 (no date), 2.4 = 4.
  let r = await ok([...NOW, "--timeframe", "all", series]);
  assert.equal(
    r.stdout,
    tsv(
      ["Clinic B", 4],
      ["Example Hospital", 2],
      ["(empty)", 1],
      ["Unknown", 1],
      ["example hospital", 1],
    ),
  );
  assert.equal(r.stderr, "");
  // 14d: from 20240318: 1.1 (0330) and 2.4 (future).
  r = await ok([...NOW, "-t", "14d", series]);
  assert.equal(r.stdout, tsv(["Clinic B", 1], ["Example Hospital", 1]));
  // 1m = 30 days: from 20240302: 1.1, 1.3, 3.1, 3.2, 2.4.
  r = await ok([...NOW, "-t", "1m", series]);
  assert.equal(
    r.stdout,
    tsv(
      ["(empty)", 1],
      ["Clinic B", 1],
      ["Example Hospital", 1],
      ["Unknown", 1],
      ["example hospital", 1],
    ),
  );
  // 20240301..20240315: 1.2, 1.3, 3.1, 3.2.
  r = await ok(["--since", "20240301", "--until", "20240315", series]);
  assert.equal(
    r.stdout,
    tsv(["(empty)", 1], ["Example Hospital", 1], ["Unknown", 1], ["example hospital", 1]),
  );
});

test("--top, --format csv with quoting, --format ndjson", async () => {
  let r = await ok([...NOW, "--top", "2", series]);
  assert.equal(r.stdout, tsv(["Clinic B", 2], ["Example Hospital", 2]));
  const odd = [
    { InstitutionName: 'Clinic "Nord", Haus 2', StudyDate: "20240330", StudyInstanceUID: "9.1" },
    { InstitutionName: "Tab\there", StudyDate: "20240330", StudyInstanceUID: "9.2" },
  ];
  const input = odd.map((o) => JSON.stringify(o)).join("\n");
  r = await ok([...NOW, "--format", "csv"], input);
  assert.equal(r.stdout, 'Institution Name,Count\n"Clinic ""Nord"", Haus 2",1\nTab here,1\n');
  r = await ok([...NOW, "-f", "ndjson", series]);
  assert.deepEqual(ndjson(r.stdout), [
    { count: 2, InstitutionName: "Clinic B" },
    { count: 2, InstitutionName: "Example Hospital" },
    { count: 1, InstitutionName: null },
    { count: 1 },
    { count: 1, InstitutionName: "example hospital" },
  ]);
});

test("--excel: CSV with BOM and CRLF, names that look like formulas or numbers as text, counts as numbers", async () => {
  const odd = [
    { InstitutionName: '=HYPERLINK("http://x")', StudyDate: "20240330", StudyInstanceUID: "9.1" },
    { InstitutionName: "0042 Praxis", StudyDate: "20240330", StudyInstanceUID: "9.2" },
    { InstitutionName: "Klinik Süd", StudyDate: "20240330", StudyInstanceUID: "9.3" },
  ];
  const r = await ok([...NOW, "--excel"], odd.map((o) => JSON.stringify(o)).join("\n"));
  assert.equal(
    r.stdout,
    '\uFEFFInstitution Name,Count\r\n"=""0042 Praxis""",1\r\n"=""=HYPERLINK(""""http://x"""")""",1\r\nKlinik Süd,1\r\n',
  );
  const bad = await runMain(main, [...NOW, "--excel", "-f", "tsv"], { input: "" });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--excel writes CSV; it cannot be combined with --format tsv/);
});

test("--by several keys (ditag-style reports)", async () => {
  const recs = [
    {
      InstitutionName: "A",
      Modality: "CT",
      SeriesDescription: "Thorax",
      StudyDate: "20240330",
      StudyInstanceUID: "1",
      SeriesInstanceUID: "1.1",
    },
    {
      InstitutionName: "A",
      Modality: "CT",
      SeriesDescription: "Abdomen",
      StudyDate: "20240330",
      StudyInstanceUID: "1",
      SeriesInstanceUID: "1.2",
    },
    {
      InstitutionName: "A",
      Modality: "MR",
      SeriesDescription: "Thorax",
      StudyDate: "20240330",
      StudyInstanceUID: "2",
      SeriesInstanceUID: "2.1",
    },
    {
      InstitutionName: "B",
      Modality: "CT",
      SeriesDescription: "Thorax",
      StudyDate: "20240330",
      StudyInstanceUID: "3",
      SeriesInstanceUID: "3.1",
    },
  ];
  const input = recs.map((o) => JSON.stringify(o)).join("\n");
  let r = await ok([...NOW, "--by", "InstitutionName,Modality"], input);
  assert.equal(r.stdout, "Institution Name\tModality\tCount\nA\tCT\t1\nA\tMR\t1\nB\tCT\t1\n");
  r = await ok([...NOW, "--by", "SeriesDescription", "--per", "series", "--top", "1"], input);
  assert.equal(r.stdout, "Series Description\tCount\nThorax\t3\n");
});

// pacsalyzer's query_pacs.py output: one object per series, indent=4, both pydicom forms.
const p2 = (tag: string, name: string, vr: string, rep: string) =>
  `(${tag.slice(0, 4)}, ${tag.slice(5)}) ${name.padEnd(35)} ${vr}: ${rep}`;
const p3 = (tag: string, name: string, vr: string, rep: string) =>
  `(${tag.slice(0, 4)},${tag.slice(5)}) ${name.padEnd(35)} ${vr}: ${rep}`;
function legacyRow(f: typeof p2, inst: string | null, date: string, uid: string) {
  return {
    "(0010,0020)": f("0010,0020", "Patient ID", "LO", "'P1'"),
    "(0008,0080)": inst === null ? "" : f("0008,0080", "Institution Name", "LO", inst),
    "(0008,0020)": f("0008,0020", "Study Date", "DA", `'${date}'`),
    "(0008,0030)": f("0008,0030", "Study Time", "TM", "'083000'"),
    "(0008,1030)": f("0008,1030", "Study Description", "LO", "'CT Thorax'"),
    "(0008,0060)": f("0008,0060", "Modality", "CS", "'CT'"),
    "(0020,000D)": f("0020,000D", "Study Instance UID", "UI", uid),
  };
}
const legacy = join(dir, "query_results.json");
writeFileSync(
  legacy,
  JSON.stringify(
    [
      legacyRow(p2, "'Example Hospital'", "20240320", "1.2.3"),
      legacyRow(p2, "'Example Hospital'", "20240320", "1.2.3"), // second series of the same study
      legacyRow(p3, `"St. Mary's Hospital"`, "20240321", "1.2.4"),
      legacyRow(p2, "''", "20240322", "1.2.5"),
      legacyRow(p3, null, "20240323", "1.2.6"),
      legacyRow(p3, "'Klinik M\u00fcnchen'", "20240324", "1.2.7"),
      legacyRow(p2, "'Example Hospital'", "20231201", "1.2.8"), // outside 3m
    ],
    null,
    4,
  ).replace(/ü/g, "\\u00fc"), // Python's ensure_ascii
);

test("pacsalyzer JSON (pydicom 2 and 3 forms) is detected and counted per study", async () => {
  // The seed would print Example Hospital 2 (series), Unknown 2 (double-quoted and missing) and "" 1.
  const r = await ok([...NOW, legacy]);
  assert.equal(
    r.stdout,
    tsv(
      ["(empty)", 1],
      ["Example Hospital", 1],
      ["Klinik München", 1],
      ["St. Mary's Hospital", 1],
      ["Unknown", 1],
    ),
  );
  const all = await ok([...NOW, "-t", "all", "--per", "record", legacy]);
  assert.equal(
    all.stdout,
    tsv(
      ["Example Hospital", 3],
      ["(empty)", 1],
      ["Klinik München", 1],
      ["St. Mary's Hospital", 1],
      ["Unknown", 1],
    ),
  );
});

test("PS3.18 NDJSON and CSV input", async () => {
  const ps = [
    {
      "00080080": { vr: "LO", Value: ["A"] },
      "00080020": { vr: "DA", Value: ["20240330"] },
      "0020000D": { vr: "UI", Value: ["1"] },
    },
    {
      "00080080": { vr: "LO" },
      "00080020": { vr: "DA", Value: ["20240330"] },
      "0020000D": { vr: "UI", Value: ["2"] },
    },
  ];
  let r = await ok([...NOW], ps.map((o) => JSON.stringify(o)).join("\n"));
  assert.equal(r.stdout, tsv(["(empty)", 1], ["A", 1]));
  const csv = join(dir, "studies.csv");
  writeFileSync(
    csv,
    "StudyInstanceUID,InstitutionName,StudyDate\n1,A,20240330\n2,A,20240330\n3,,20240330\n",
  );
  r = await ok([...NOW, csv]);
  assert.equal(r.stdout, tsv(["A", 2], ["(empty)", 1]));
});

test("findscu-ts' reports of batch rows that found nothing (status no-match, failed) are not studies", async () => {
  // Matches 1 and 2 (one still "Pending" as a C-FIND status) are studies of A; the two
  // row reports carry the row's keys (A, a date) but no study: counted, they would add
  // one to A and one Unknown.
  const nd = [
    '{"InstitutionName":"A","StudyDate":"20240301","StudyInstanceUID":"1","status":"Pending"}',
    '{"InstitutionName":"A","StudyDate":"20240302","StudyInstanceUID":"2"}',
    '{"query":3,"InstitutionName":"A","StudyDate":"20240303","status":"no-match"}',
    '{"query":4,"AccessionNumber":"X","status":"failed","error":"association rejected"}',
  ].join("\n");
  let r = await ok(["--timeframe", "all", "-v"], nd);
  assert.equal(r.stdout, tsv(["A", 2]));
  assert.match(
    r.stderr,
    /I: inst-count: 2 records reporting a query row that found nothing \(status no-match or failed\) were left out/,
  );
  assert.doesNotMatch(r.stderr, /^W:/m);
  const csv = join(dir, "reports.csv");
  writeFileSync(
    csv,
    "InstitutionName,StudyDate,StudyInstanceUID,status\nA,20240301,1,\nA,20240303,,no-match\n,,,failed\n",
  );
  r = await ok(["--timeframe", "all", csv]);
  assert.equal(r.stdout, tsv(["A", 1]));
});

test("zero matching records: header only", async () => {
  const r = await ok([...NOW], "");
  assert.equal(r.stdout, "Institution Name\tCount\n");
});

test("malformed input exits 2 naming the line and what was expected", async () => {
  let r = await runMain(main, [...NOW], {
    input: '{"InstitutionName":"A"}\n{"InstitutionName":"B"}\n{"InstitutionName":\n',
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^E: inst-count: stdin:3: invalid JSON: /);
  assert.equal(r.stdout, "");
  const bad = readFileSync(legacy, "utf8").replace("DA: '20240321'", "DA '20240321'");
  r = await runMain(main, [...NOW], { input: bad });
  assert.equal(r.code, 2);
  // The third object starts on line 20; its StudyDate is its fourth line.
  assert.match(
    r.stderr,
    /^E: inst-count: stdin:23: \(0008,0020\): expected a pydicom element string like "\(0008, 0080\) Institution Name LO: 'Example Hospital'", got/,
  );
  r = await runMain(main, [...NOW], { input: "[1, 2]" });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /stdin:1: element 1 of the JSON array is not an object/);
});

test("usage errors exit 2 with a hint", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--by", "InstituionName"], /--by: unknown attribute "InstituionName"/],
    [
      ["--timeframe", "2y"],
      /--timeframe: expected all, 6m, 3m, 1m or a number of days like 14d, got "2y"/,
    ],
    [
      ["--timeframe", "3m", "--since", "20240101"],
      /--timeframe cannot be combined with --since\/--until/,
    ],
    [["--now", "2024-13-01"], /--now: expected a date YYYYMMDD/],
    [["--top", "0"], /--top: expected a positive whole number/],
    [["--per", "patient"], /Invalid values/],
    [["--nope"], /Unknown argument: nope/],
    [[join(dir, "missing.json")], /missing\.json: no such file/],
  ];
  for (const [args, re] of cases) {
    const r = await runMain(main, args, { input: "" });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(r.stdout, "");
  }
});

test("--help and --version on stdout", async () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  let r = await runBin("inst-count", ["--help"]);
  assert.equal(r.code, 0);
  for (const flag of [
    "--by",
    "--per",
    "--fold-case",
    "--top",
    "--format",
    "--timeframe",
    "--since",
    "--until",
    "--now",
    "Exit status",
  ])
    assert.ok(r.stdout.includes(flag), flag);
  r = await runBin("inst-count", ["--version"]);
  assert.ok(r.stdout.startsWith(`inst-count ${pkg.version} (dicom-pipes; `), r.stdout);
});
