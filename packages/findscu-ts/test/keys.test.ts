/**
 * findscu-ts query keys against a scripted SCP: invalid -k values stop
 * before any association, --split-dates sends only valid DA ranges (PS3.5
 * 6.2, YYYYMMDD-YYYYMMDD), and stdin without `-` is left unread, with a
 * warning when it holds data.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { validateDateQuery } from "@dicom-pipes/dimse/records";
import { runBin, runShell, shellWord, ndjson } from "@dicom-pipes/test-support/bins";
import { scriptedScp, study } from "./scripted.js";

const Q = ["-S", "-aec", "SCP", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-sr"];

/** A scripted archive holding one study a day over `days`, answering DA ranges (rejecting invalid ones as a strict peer does). */
async function dailyArchive(days: string[]) {
  const sent: string[] = [];
  const scp = await scriptedScp({
    async onFind(c) {
      const range = c.identifier.string(Tags.StudyDate) ?? "";
      sent.push(range);
      try {
        validateDateQuery("StudyDate", range);
      } catch {
        return c.final(0xa900, `invalid StudyDate ${range}`);
      }
      const [a, b] = range.includes("-") ? range.split("-") : [range, range];
      for (const d of days.filter((d) => (a === "" || d >= a!) && (b === "" || d <= b!)))
        await c.pending(study(`9.${d}`, { StudyDate: d }));
      await c.final(0);
    },
  });
  return { scp, sent };
}

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (
    let t = Date.UTC(+from.slice(0, 4), +from.slice(4, 6) - 1, +from.slice(6));
    ;
    t += 86400000
  ) {
    const d = new Date(t).toISOString().slice(0, 10).replace(/-/g, "");
    if (d > to) return out;
    out.push(d);
  }
}

for (const [key, field] of [
  ["StudyDate=2024-13-45", "StudyDate"],
  ["StudyDate=20241345", "StudyDate"],
  ["StudyDate=20240201-20240101", "StudyDate"],
  ["StudyTime=2561", "StudyTime"],
  ["AcquisitionDateTime=20241301", "AcquisitionDateTime"],
] as const) {
  test(`-k ${key} is a usage error (exit 2) before any association`, async () => {
    const scp = await scriptedScp({ onFind: (c) => c.final(0) });
    try {
      const r = await runBin("findscu-ts", [...Q, "-k", key, "127.0.0.1", String(scp.port)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^E: findscu-ts: -k ${field}: .*"`, "m"));
      assert.equal(r.stdout, "");
      assert.equal(scp.proposals.length, 0, "no association");
    } finally {
      await scp.close();
    }
  });
}

test("valid -k dates, times, date-times and open ranges are sent as given", async () => {
  const scp = await scriptedScp({ onFind: (c) => c.final(0) });
  try {
    const r = await runBin("findscu-ts", [
      ...Q,
      "-k",
      "StudyDate=-20240131",
      "-k",
      "StudyTime=0800-1230",
      "-k",
      "AcquisitionDateTime=20240101120000.5+0100-",
      "127.0.0.1",
      String(scp.port),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ds = scp.finds[0]!;
    assert.equal(ds.string(Tags.StudyDate), "-20240131");
    assert.equal(ds.string(Tags.StudyTime), "0800-1230");
    assert.equal(ds.string(0x0008002a), "20240101120000.5+0100-");
  } finally {
    await scp.close();
  }
});

test("a range of years is refused with the full-date range to write instead", async () => {
  const r = await runBin("findscu-ts", [
    ...Q,
    "-k",
    "StudyDate=2015-2024",
    "--split-dates",
    "127.0.0.1",
    "1",
  ]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /StudyDate: "2015-2024" is not a date range: years are not DA values \(write 20150101-20241231\)/,
  );
});

test("the --split-dates example of --help passes the tool's own checks", async () => {
  const help = (await runBin("findscu-ts", ["--help"])).stdout;
  const example = help
    .split("\n")
    .find((l) => l.includes("--split-dates") && l.includes("StudyDate="));
  assert.ok(example, "--help has a --split-dates example");
  const date = /StudyDate=(\S+)/.exec(example)![1]!;
  const { scp, sent } = await dailyArchive(daysBetween("20150101", "20150110"));
  try {
    const r = await runBin("findscu-ts", [
      ...Q,
      "-k",
      `StudyDate=${date}`,
      "--split-dates",
      "--max-results",
      "1000",
      "127.0.0.1",
      String(scp.port),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sent, [date]);
  } finally {
    await scp.close();
  }
});

for (const [range, from, to] of [
  ["20250101-20261231", "20250101", "20261231"],
  ["20260101-20260101", "20260101", "20260101"],
  ["-20250301", "20250101", "20250301"],
] as const) {
  test(`--split-dates on ${range} sends only full-date ranges and finds every study once`, async () => {
    const days = daysBetween("20250101", "20261231");
    const { scp, sent } = await dailyArchive(days);
    try {
      const r = await runBin("findscu-ts", [
        ...Q,
        "-k",
        `StudyDate=${range}`,
        "--split-dates",
        "--max-results",
        "50",
        "127.0.0.1",
        String(scp.port),
      ]);
      assert.equal(r.code, 0, r.stderr);
      for (const s of sent.slice(1)) assert.match(s, /^\d{8}(-\d{8})?$/, `a split range: ${s}`);
      for (const s of sent) assert.doesNotThrow(() => validateDateQuery("StudyDate", s), s);
      const want = days.filter((d) => d >= from && d <= to).map((d) => `9.${d}`);
      assert.deepEqual(
        ndjson(r.stdout)
          .map((x) => x.StudyInstanceUID as string)
          .sort(),
        want,
      );
    } finally {
      await scp.close();
    }
  });
}

test("stdin without '-' is not read: a warning, one query, and a while-read loop keeps its input", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      await c.pending(study("1.1"));
      await c.final(0);
    },
  });
  const args = [...Q, "127.0.0.1", String(scp.port)].join(" ");
  try {
    const piped = await runShell(
      `printf 'StudyInstanceUID\\n1.2\\n1.3\\n' | ${shellWord("findscu-ts")} ${args}`,
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, "W: findscu-ts: stdin is not read; add '-' to use it as queries\n");
    assert.equal(scp.finds.length, 1, "one query from the -k keys");
    const loop = await runShell(
      `printf 'a\\nb\\nc\\n' | while read x; do echo "$x"; ${shellWord("findscu-ts")} ${args} > /dev/null 2>> /dev/null; done`,
    );
    assert.equal(loop.stdout, "a\nb\nc\n", "the loop read every line");
    assert.equal(scp.finds.length, 4);
    const file = await runShell(
      `printf 'a\\nb\\n' > "$TMPDIR/lines" && ${shellWord("findscu-ts")} ${args} < "$TMPDIR/lines"`,
      { env: { TMPDIR: process.env.TMPDIR ?? "/tmp" } },
    );
    assert.match(file.stderr, /stdin is not read/);
    const none = await runShell(`${shellWord("findscu-ts")} ${args} < /dev/null`);
    assert.equal(none.stderr, "", "no warning for /dev/null");
  } finally {
    await scp.close();
  }
});

test("study records fed as series queries send only series keys and the study's UID (PS3.4 C.6.2.1); -k keys stay", async () => {
  const scp = await scriptedScp({ onFind: (c) => c.final(0) });
  const records = [
    {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: "1.2.1",
      AccessionNumber: "A1",
      StudyDate: "20240101",
      ModalitiesInStudy: ["CT", "SR"],
      PatientID: "P1",
      PatientName: "Doe^J",
    },
    {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: "1.2.2",
      AccessionNumber: "A2",
      StudyDate: "20240102",
      ModalitiesInStudy: "MR",
      PatientID: "P2",
      PatientName: "Roe^R",
    },
  ]
    .map((r) => JSON.stringify(r))
    .join("\n");
  try {
    const args = [
      "-S",
      "-aec",
      "SCP",
      "-sr",
      "-v",
      "-k",
      "QueryRetrieveLevel=SERIES",
      "-k",
      "SeriesInstanceUID",
      "-k",
      "Modality",
      "-k",
      "StudyDate",
      "127.0.0.1",
      String(scp.port),
      "-",
    ];
    const r = await runBin("findscu-ts", args, { input: `${records}\n` });
    assert.equal(r.code, 0, r.stderr);
    const keywords = scp.finds.map((ds) =>
      ds.elements.map((e) => e.tag.toString(16).padStart(8, "0")).sort(),
    );
    // QueryRetrieveLevel, StudyDate (asked for with -k), StudyInstanceUID, SeriesInstanceUID, Modality
    const want = ["00080020", "00080052", "00080060", "0020000d", "0020000e"];
    assert.deepEqual(keywords, [want, want]);
    assert.equal(scp.finds[0]!.string(Tags.StudyInstanceUID), "1.2.1");
    assert.equal(
      scp.finds[0]!.string(Tags.StudyDate),
      "",
      "-k StudyDate (no value) replaces the record's date",
    );
    assert.match(
      r.stderr,
      /^I: findscu-ts: stdin:1: not keys at this query's level, not sent: AccessionNumber, ModalitiesInStudy, PatientName, PatientID$/m,
    );
    // In the Patient Root model, the patient's ID is a unique key above SERIES level.
    const p = await runBin("findscu-ts", ["-P", ...args.slice(1)], { input: `${records}\n` });
    assert.equal(p.code, 0, p.stderr);
    assert.equal(scp.finds[2]!.string(Tags.PatientID), "P1");
    assert.equal(scp.finds[2]!.has(Tags.PatientName), false);
  } finally {
    await scp.close();
  }
});
