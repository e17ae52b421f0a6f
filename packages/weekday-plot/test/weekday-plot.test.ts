// weekday-plot as a command. Expected medians and busiest slots were worked
// out by hand from the fixture (see the comments), not taken from the tool.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ndjson, runBin, runMain, runShell, shellWord } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";

const dir = mkdtempSync(join(tmpdir(), "weekday-plot-"));
const rec = (date: string, time: string | undefined, uid: string) =>
  JSON.stringify({ StudyDate: date, ...(time ? { StudyTime: time } : {}), StudyInstanceUID: uid });
// Window 2024-01-01 (Monday) .. 2024-01-14 (Sunday): two of each weekday.
const input = join(dir, "studies.ndjson");
writeFileSync(
  input,
  `${[
    rec("20240101", "090000", "A1"), // Monday 1 Jan, 09h: A1, A2, A3 = 3 studies
    rec("20240101", "091500", "A1"), // (a second series of A1)
    rec("20240101", "093000", "A2"),
    rec("20240101", "095959.5", "A3"),
    rec("20240108", "0915", "B1"), // Monday 8 Jan, 09h: 1 study
    rec("20240108", "100000", "B2"), // Monday 8 Jan, 10h: 2 studies
    rec("20240108", "1001", "B3"),
    rec("20240102", "143000", "C1"), // Tuesday 2 Jan, 14h: 1 study
    rec("20240103", undefined, "D1"), // no StudyTime: left out with a warning
    rec("20240115", "090000", "E1"), // outside the window
  ].join("\n")}\n`,
);
const WINDOW = ["--since", "20240101", "--until", "20240114"];
const LABEL = "20240101-20240114";

function hours(values: Record<number, number>): string[] {
  return Array.from({ length: 24 }, (_, h) => String(values[h] ?? 0));
}
function medianCsv(mon: Record<number, number>, tue: Record<number, number>): string {
  const zero = hours({});
  const rows = [
    ["weekday", ...Array.from({ length: 24 }, (_, h) => String(h))],
    ["Monday", ...hours(mon)],
    ["Tuesday", ...hours(tue)],
    ...["Wednesday", "Thursday", "Friday", "Saturday", "Sunday"].map((d) => [d, ...zero]),
  ];
  return `${rows.map((r) => r.join(",")).join("\n")}\n`;
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(file: string): [number, number] {
  const b = readFileSync(file);
  assert.deepEqual(
    [...b.subarray(0, 8)],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    `${file}: PNG signature`,
  );
  assert.equal(b.toString("latin1", 12, 16), "IHDR");
  assert.equal(b.toString("latin1", b.length - 8, b.length - 4), "IEND");
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

test("default: zero-filled boxplots per weekday with data, median table, heatmap, busiest slots", async () => {
  const out = join(dir, "plots");
  const top = join(dir, "top10.csv");
  const r = await runMain(main, [...WINDOW, "-o", out, "--top10-output", top, input]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    "W: weekday-plot: 1 of 10 records without a usable StudyDate (0) or StudyTime (1) were left out\n",
  );
  const files = readdirSync(out).sort();
  assert.deepEqual(files, [
    `Monday_boxplot_${LABEL}.png`,
    `Tuesday_boxplot_${LABEL}.png`,
    "median_per_hour_weekday.csv",
    "overview.png",
  ]);
  // One record per file written, with its size.
  const written = ndjson(r.stdout);
  assert.equal(written.length, 4);
  for (const w of written) assert.equal(w.bytes, statSync(w.path as string).size);
  for (const f of files.filter((f) => f.endsWith(".png")))
    assert.deepEqual(pngSize(join(out, f)), [1200, 600], f);
  // Monday 09h: [3, 1] -> 2; 10h: [0, 2] -> 1. Tuesday 14h: [1, 0] -> 0.5.
  assert.equal(
    readFileSync(join(out, "median_per_hour_weekday.csv"), "utf8"),
    medianCsv({ 9: 2, 10: 1 }, { 14: 0.5 }),
  );
  assert.equal(
    readFileSync(top, "utf8"),
    "date,weekday,hour,study_count\n2024-01-01,Monday,9,3\n2024-01-08,Monday,10,2\n2024-01-02,Tuesday,14,1\n2024-01-08,Monday,9,1\n",
  );
});

test("findscu-ts' reports of batch rows that found nothing (status no-match, failed) are not studies", async () => {
  // The fixture plus two row reports carrying a query row's date and time (Tuesday
  // 2 Jan, 14h) but no study: counted, Tuesday 14h would be [3, 0] -> 1.5, not 0.5.
  const withReports = join(dir, "with-reports.ndjson");
  writeFileSync(
    withReports,
    `${readFileSync(input, "utf8")}${[
      '{"query":1,"StudyDate":"20240102","StudyTime":"140000","status":"no-match"}',
      '{"query":2,"StudyDate":"20240102","StudyTime":"1400","status":"failed","error":"timeout"}',
    ].join("\n")}\n`,
  );
  const out = join(dir, "plots-reports");
  const r = await runMain(main, [...WINDOW, "-v", "-o", out, withReports]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readFileSync(join(out, "median_per_hour_weekday.csv"), "utf8"),
    medianCsv({ 9: 2, 10: 1 }, { 14: 0.5 }),
  );
  assert.match(r.stderr, /2 records reporting a query row that found nothing/);
  assert.doesNotMatch(r.stderr, /without StudyInstanceUID/);
});

test("--exclude-zero reproduces pacsalyzer's samples (only hours with studies)", async () => {
  const out = join(dir, "plots-nozero");
  const r = await runMain(main, [...WINDOW, "-o", out, "--exclude-zero", "-q", input]);
  assert.equal(r.code, 0, r.stderr);
  // Monday 09h: [3, 1] -> 2; 10h: [2] -> 2. Tuesday 14h: [1] -> 1.
  assert.equal(
    readFileSync(join(out, "median_per_hour_weekday.csv"), "utf8"),
    medianCsv({ 9: 2, 10: 2 }, { 14: 1 }),
  );
  assert.equal(r.stderr, "");
});

test("--holidays DE splits New Year's Day into its own plot", async () => {
  const out = join(dir, "plots-holidays");
  const r = await runMain(main, [...WINDOW, "-o", out, "--holidays", "DE", "-q", input]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    readdirSync(out)
      .filter((f) => f.endsWith(".png"))
      .sort(),
    [
      `Monday_boxplot_${LABEL}_holidays.png`,
      `Monday_boxplot_${LABEL}_non-holidays.png`,
      `Tuesday_boxplot_${LABEL}_non-holidays.png`,
      "overview.png",
    ],
  );
  // Names a shell and Make take unquoted.
  for (const f of readdirSync(out)) assert.match(f, /^[A-Za-z0-9._-]+$/);
  // The median table keeps holidays in, as the seed's did.
  assert.equal(
    readFileSync(join(out, "median_per_hour_weekday.csv"), "utf8"),
    medianCsv({ 9: 2, 10: 1 }, { 14: 0.5 }),
  );
});

test("--seed-names keeps pacsalyzer's file names", async () => {
  const out = join(dir, "plots-seed-names");
  const r = await runMain(main, [
    ...WINDOW,
    "-o",
    out,
    "--holidays",
    "DE",
    "--seed-names",
    "-q",
    input,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    readdirSync(out)
      .filter((f) => f.endsWith(".png"))
      .sort(),
    [
      `Monday_boxplot_${LABEL}(Holidays).png`,
      `Monday_boxplot_${LABEL}(Non-Holidays).png`,
      `Tuesday_boxplot_${LABEL}(Non-Holidays).png`,
      "overview.png",
    ],
  );
});

test("--excel: median table and busiest slots with BOM and CRLF, the date as text", async () => {
  const out = join(dir, "plots-excel");
  const top = join(dir, "top10-excel.csv");
  const r = await runMain(main, [
    ...WINDOW,
    "-o",
    out,
    "--top10-output",
    top,
    "--excel",
    "-q",
    input,
  ]);
  assert.equal(r.code, 0, r.stderr);
  // Header cells are text: the hours are written as ="0" ... ="23"; the medians
  // stay numbers (no formula) so that a spreadsheet can compute with them.
  const hoursHeader = Array.from({ length: 24 }, (_, h) => `"=""${h}"""`).join(",");
  const expected =
    "\uFEFF" +
    medianCsv({ 9: 2, 10: 1 }, { 14: 0.5 })
      .replace(/^weekday,[^\n]*/, `weekday,${hoursHeader}`)
      .replace(/\n/g, "\r\n");
  assert.equal(readFileSync(join(out, "median_per_hour_weekday.csv"), "utf8"), expected);
  // Monday 1 Jan 09h (3 studies) is the busiest slot.
  assert.equal(
    readFileSync(top, "utf8").split("\r\n").slice(0, 2).join("\n"),
    '\uFEFFdate,weekday,hour,study_count\n"=""2024-01-01""",Monday,9,3',
  );
});

test("--format svg writes 1200x600 SVG with the titles and axis labels", async () => {
  const out = join(dir, "svg");
  const r = await runMain(main, [...WINDOW, "-o", out, "--format", "svg", "-q", input]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), [
    `Monday_boxplot_${LABEL}.svg`,
    `Tuesday_boxplot_${LABEL}.svg`,
    "median_per_hour_weekday.csv",
    "overview.svg",
  ]);
  const svg = readFileSync(join(out, `Monday_boxplot_${LABEL}.svg`), "utf8");
  assert.match(svg, /^<svg [^>]*width="1200" height="600"/);
  for (const text of [
    `Study Distribution per Hour for Monday (${LABEL})`,
    "Hour of Day",
    "Number of Unique Studies",
    "2 Mondays from 2024-01-01 to 2024-01-08, 6 studies",
  ]) {
    assert.ok(svg.includes(text), text);
  }
  // Integer ticks only on the y axis: labels 0..4 (the domain is padded to at least 4).
  assert.ok(!/>\d+\.\d+<\/text>/.test(svg), "no fractional tick labels");
  assert.match(
    readFileSync(join(out, "overview.svg"), "utf8"),
    /Median Studies per Hour and Weekday/,
  );
});

test("a relative timeframe counts every date up to --now; pacsalyzer JSON input (pydicom 3 form)", async () => {
  const p3 = (tag: string, name: string, vr: string, rep: string) =>
    `(${tag.slice(0, 4)},${tag.slice(5)}) ${name.padEnd(35)} ${vr}: ${rep}`;
  const rows = [
    ["20240311", "'081500'", "1.1"], // Monday
    ["20240311", "'084500'", "1.2"],
    ["20240318", "'080000'", "1.3"], // Monday
  ].map(([d, t, u]) => ({
    "(0008,0020)": p3("0008,0020", "Study Date", "DA", `'${d}'`),
    "(0008,0030)": p3("0008,0030", "Study Time", "TM", t!),
    "(0020,000D)": p3("0020,000D", "Study Instance UID", "UI", u!),
  }));
  const legacy = join(dir, "query_results.json");
  writeFileSync(legacy, JSON.stringify(rows, null, 4));
  const out = join(dir, "legacy");
  // 14 days inclusive back from Monday 25 March: 11, 18 and 25 March are the Mondays -> 08h samples [2, 1, 0].
  const r = await runMain(main, ["--now", "20240325", "-t", "14d", "-o", out, legacy]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith("Monday")),
    ["Monday_boxplot_14d.png"],
  );
  const monday = readFileSync(join(out, "median_per_hour_weekday.csv"), "utf8").split("\n")[1]!;
  assert.equal(monday, ["Monday", ...hours({ 8: 1 })].join(","));
});

test("errors: usage (2), malformed input (2), nothing to plot (1)", async () => {
  let r = await runMain(main, [input]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /give the output folder with -o OUTDIR|Missing required argument: output/);
  r = await runMain(main, ["-o", join(dir, "x"), "--holidays", "XX", input]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--holidays: unknown country code "XX"/);
  r = await runMain(main, ["-o", join(dir, "x"), "--format", "jpg", input]);
  assert.equal(r.code, 2);
  r = await runMain(main, ["-o", join(dir, "x")], {
    input: '{"StudyDate":"20240101"}\nnot json\n',
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /E: weekday-plot: stdin:2: invalid JSON/);
  r = await runMain(main, ["-o", join(dir, "empty"), "--now", "20240101"], {
    input: rec("20200101", "090000", "Z"),
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no studies with a usable StudyDate and StudyTime in the window/);
  assert.equal(existsSync(join(dir, "empty")), false);
  assert.equal(r.stdout, "");
});

test("--help and --version", async () => {
  let r = await runBin("weekday-plot", ["--help"]);
  assert.equal(r.code, 0);
  for (const flag of [
    "--output",
    "--format",
    "--top10-output",
    "--exclude-zero",
    "--holidays",
    "--timeframe",
    "--since",
    "--until",
    "--now",
    "Exit status",
  ])
    assert.ok(r.stdout.includes(flag), flag);
  r = await runBin("weekday-plot", ["--version"]);
  assert.match(
    r.stdout,
    /^weekday-plot \d+\.\d+\.\d+ \(dicom-pipes; DICOM dictionary: dcmjs [\d.]+\)\n$/,
  );
});

test("| head: every file is written, whoever still reads the records", async () => {
  const out = join(dir, "plots-head");
  const r = await runShell(
    `${shellWord("weekday-plot")} ${WINDOW.join(" ")} -q -o "${out}" "${input}" | head -1`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ndjson(r.stdout).length, 1);
  assert.deepEqual(readdirSync(out).sort(), [
    `Monday_boxplot_${LABEL}.png`,
    `Tuesday_boxplot_${LABEL}.png`,
    "median_per_hour_weekday.csv",
    "overview.png",
  ]);
});
