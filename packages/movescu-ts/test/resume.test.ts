/**
 * Resume: a batch of 500 small instances (50 series × 10) retrieved series
 * by series with C-MOVE to self from the dev PACS; movescu-ts is killed
 * (kill -9, Ctrl-C) at several points and rerun with the same command.
 * After the rerun every instance is present exactly once, byte-identical
 * to the archive, no temporary file is left under -od, the journal lists
 * every request, and the rerun asked the archive only for the requests
 * the first run had not journalled (their results come from the journal).
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { ndjson, runBin, startBin, until } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";
import { filesUnder } from "@dicom-pipes/test-support/files";
import {
  checkReceived,
  sourceInstances,
  type SourceInstance,
} from "@dicom-pipes/test-support/retrieve";

const JOURNAL = ".movescu-ts.journal";
const SERIES = 50;
const PER_SERIES = 10;

let dir: string;
let pacs: DevPacs;
let port: number;
let source: Map<string, SourceInstance>;
/** series UID → its SOP Instance UIDs. */
const bySeries = new Map<string, string[]>();
/** Series C-MOVEs the archive received, in order. */
let calls: string[] = [];
let input: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-resume-"));
  const archive = join(dir, "archive");
  const s = await generateArchive({
    out: archive,
    patients: 10,
    seed: "resume",
    studiesPerPatient: 1,
    seriesPerStudy: 5,
    instancesPerSeries: PER_SERIES,
    rows: 16,
    cols: 16,
  });
  assert.equal(s.series, SERIES);
  assert.equal(s.instances, SERIES * PER_SERIES);
  source = await sourceInstances(archive);
  port = await freePort();
  pacs = await startDevPacs({
    dir: archive,
    moveDestinations: { MOVESCU: { host: "127.0.0.1", port } },
  });
  const select = pacs.archive.select.bind(pacs.archive);
  pacs.archive.select = (identifier, level) => {
    calls.push(identifier.string(Tags.SeriesInstanceUID) ?? "");
    return select(identifier, level);
  };
  const records: Array<{ StudyInstanceUID: string; SeriesInstanceUID: string }> = [];
  for (const i of pacs.archive.instances.values()) {
    if (!bySeries.has(i.seriesUid)) {
      bySeries.set(i.seriesUid, []);
      records.push({ StudyInstanceUID: i.studyUid, SeriesInstanceUID: i.seriesUid });
    }
    bySeries.get(i.seriesUid)!.push(i.sopInstanceUid);
  }
  records.sort((a, b) =>
    (a.StudyInstanceUID + a.SeriesInstanceUID).localeCompare(
      b.StudyInstanceUID + b.SeriesInstanceUID,
    ),
  );
  input = `${records.map((r) => JSON.stringify({ QueryRetrieveLevel: "SERIES", ...r })).join("\n")}\n`;
});

after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const args = (od: string, extra: string[] = []) => [
  "-S",
  "-aec",
  "DEVPACS",
  "+P",
  String(port),
  "-od",
  od,
  ...extra,
  "127.0.0.1",
  String(pacs.port),
];

/** Instance files under od (not the journal, dumps, hidden or temporary files). */
async function instanceFiles(od: string): Promise<string[]> {
  return (await filesUnder(od, { hidden: true })).filter(
    (f) =>
      !f.split("/").some((c) => c.startsWith(".")) && !f.endsWith(".csv") && !f.endsWith(".part"),
  );
}

interface JournalEntry {
  key: string;
  result: Record<string, unknown>;
}

/** Journal lines; unparsable lines are returned apart. */
async function readJournal(od: string): Promise<{ entries: JournalEntry[]; bad: string[] }> {
  const text = await readFile(join(od, JOURNAL), "utf8").catch(() => "");
  const entries: JournalEntry[] = [];
  const bad: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      bad.push(line);
    }
  }
  return { entries, bad };
}

/** The series a journal entry stands for (its key names the request's unique keys). */
function seriesOfKey(key: string): string {
  const hits = [...bySeries.keys()].filter((s) => key.includes(`"${s}"`));
  assert.equal(hits.length, 1, `journal key names one series: ${key}`);
  return hits[0]!;
}

/** Run movescu-ts and stop it with `signal` once `atFiles` instances are on disk. */
async function interrupted(
  od: string,
  atFiles: number,
  signal: NodeJS.Signals,
  extra: string[] = [],
) {
  const p = startBin("movescu-ts", args(od, extra), { input });
  let count = 0;
  const reached = await until(
    async () => {
      count = (await instanceFiles(od)).length;
      return count >= atFiles || p.child.exitCode !== null;
    },
    30000,
    3,
  );
  assert.ok(reached, "the first run makes progress");
  assert.equal(
    p.child.exitCode,
    null,
    `still running when ${count} files are there (kill point ${atFiles})`,
  );
  p.child.kill(signal);
  const r = await p.done;
  const left = (await instanceFiles(od)).length;
  assert.ok(left < SERIES * PER_SERIES, `interrupted before the end (${left} files)`);
  return { r, killedAt: count, left };
}

/** After an interruption: what the journal claims complete is on disk, complete and intact. */
async function checkJournalAfterKill(od: string): Promise<Set<string>> {
  const { entries } = await readJournal(od);
  const done = new Set(entries.map((e) => seriesOfKey(e.key)));
  const files = await instanceFiles(od);
  const c = await checkReceived(od, files, source);
  assert.deepEqual(c.differing, [], "files on disk are complete and intact");
  assert.deepEqual(c.duplicates, []);
  const have = new Set(c.uids);
  for (const s of done)
    assert.ok(
      bySeries.get(s)!.every((u) => have.has(u)),
      `journalled series ${s} is on disk in full`,
    );
  return done;
}

/** Rerun to completion and check the guarantees. */
async function rerunAndVerify(
  od: string,
  journalled: Set<string>,
  extra: string[] = [],
): Promise<void> {
  const before = await readJournal(od);
  const fromJournal = new Map(before.entries.map((e) => [seriesOfKey(e.key), e.result]));
  calls = [];
  const r = await runBin("movescu-ts", args(od, extra), { input, timeoutMs: 60000 });
  assert.equal(r.code, 0, r.stderr);
  // The rerun asked only for what the journal did not list, each once.
  assert.deepEqual(
    [...calls].sort(),
    [...bySeries.keys()].filter((s) => !journalled.has(s)).sort(),
    "the rerun retrieves exactly the requests not journalled",
  );
  // Results: one per request; those of journalled requests are the journal's.
  const results = ndjson(r.stdout);
  assert.equal(results.length, SERIES);
  assert.deepEqual(results.map((x) => x.SeriesInstanceUID).sort(), [...bySeries.keys()].sort());
  for (const x of results) {
    assert.equal(x.status, "Success");
    assert.equal(x.completed, PER_SERIES);
    const prev = fromJournal.get(x.SeriesInstanceUID as string);
    if (prev) assert.deepEqual(x, prev, "result of a skipped request comes from the journal");
  }
  // Every instance exactly once, byte-identical, nothing else.
  const all = await filesUnder(od, { hidden: true });
  const files = await instanceFiles(od);
  const extraFiles = all.filter(
    (f) => f !== JOURNAL && !files.includes(f) && !(extra.includes("--info") && f.endsWith(".csv")),
  );
  assert.deepEqual(extraFiles, [], "no temporary or partial files anywhere under -od");
  const c = await checkReceived(od, files, source);
  assert.deepEqual(c.unknown, []);
  assert.deepEqual(c.duplicates, [], "no instance twice");
  assert.deepEqual(c.differing, [], "byte-identical datasets");
  assert.deepEqual(c.uids, [...source.keys()].sort(), "every instance present");
  assert.equal(files.length, SERIES * PER_SERIES);
  assert.ok(!files.some((f) => /_\d+(\.dcm)?$/.test(f)), "no numbered copies");
  assert.ok(!(await readdir(od)).includes(".movescu-ts.tmp"), "temporary directory removed");
  // The journal lists every request, each once, and nothing unreadable.
  const after = await readJournal(od);
  assert.deepEqual(after.bad, [], "every journal line is readable");
  const keys = after.entries.map((e) => seriesOfKey(e.key));
  assert.deepEqual(
    [...keys].sort(),
    [...bySeries.keys()].sort(),
    "journal lists every request once",
  );
}

for (const [label, at] of [
  ["after a few files", 15],
  ["mid-way", 250],
  ["near the end", 450],
] as const) {
  test(`kill -9 ${label} (≥ ${at} files), rerun: complete, no duplicates, no partial files`, async () => {
    const od = await mkdtemp(join(dir, `kill-${at}-`));
    calls = [];
    const { r } = await interrupted(od, at, "SIGKILL");
    assert.equal(r.signal, "SIGKILL");
    const journalled = await checkJournalAfterKill(od);
    await rerunAndVerify(od, journalled);
  });
}

test("kill -9 twice in a row (early, then mid-way), then a third run completes", async () => {
  const od = await mkdtemp(join(dir, "kill-chain-"));
  await interrupted(od, 60, "SIGKILL");
  await checkJournalAfterKill(od);
  await interrupted(od, 300, "SIGKILL");
  const journalled = await checkJournalAfterKill(od);
  await rerunAndVerify(od, journalled);
});

test("kill -9 with -j 2, --layout pacsifier and --info, rerun: complete, every series has its dump, nothing partial", async () => {
  const od = await mkdtemp(join(dir, "kill-pacsifier-"));
  const extra = ["-j", "2", "--layout", "pacsifier", "--info"];
  await interrupted(od, 200, "SIGKILL", extra);
  const journalled = await checkJournalAfterKill(od);
  await rerunAndVerify(od, journalled, extra);
  const all = await filesUnder(od, { hidden: true });
  const dirs = new Set((await instanceFiles(od)).map((f) => f.slice(0, f.lastIndexOf("/"))));
  assert.equal(dirs.size, SERIES);
  assert.deepEqual(
    all.filter((f) => f.endsWith(".csv")).sort(),
    [...dirs].map((d) => `${d}.csv`).sort(),
    "one --info dump per series folder",
  );
});

test("Ctrl-C (SIGINT) mid-run exits 130, leaves no partial files, and a rerun completes", async () => {
  const od = await mkdtemp(join(dir, "sigint-"));
  const { r } = await interrupted(od, 200, "SIGINT");
  assert.equal(r.code, 130, r.stderr);
  const leftovers = (await filesUnder(od, { hidden: true })).filter(
    (f) => f !== JOURNAL && !(!f.includes("/.") && !f.startsWith(".") && !f.endsWith(".part")),
  );
  assert.deepEqual(leftovers, [], "no temporary files after Ctrl-C");
  const journalled = await checkJournalAfterKill(od);
  await rerunAndVerify(od, journalled);
});

test("a journal line torn by a crash during its write does not swallow the next entry", async () => {
  const od = await mkdtemp(join(dir, "torn-"));
  await interrupted(od, 150, "SIGKILL");
  const journalled = await checkJournalAfterKill(od);
  // What kill -9 in the middle of the journal's write leaves: a line without its end.
  await appendFile(join(od, JOURNAL), '{"key":"SERIES {\\"QueryRetrieveLevel\\":\\"SER');
  await rerunAndVerify(od, journalled);
});
