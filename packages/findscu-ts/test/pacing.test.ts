/**
 * findscu-ts batches with movescu-ts's pacing: `-j N` queries at a time on
 * N associations, and the kill -9-safe `--journal`. The queries are
 * counted where they arrive, in the dev PACS; expected matches come from
 * the generated archive, not from findscu-ts.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { ndjson, runBin, startBin, until } from "@dicom-pipes/test-support/bins";

let dir: string;
let pacs: DevPacs;
/** accession → study UID, from the archive. */
const studies = new Map<string, string>();
let table: string;
/** Accession numbers of the C-FINDs the archive answered, in order. */
let answered: string[] = [];
/** Called with each C-FIND's accession as it arrives; true: do not answer it. */
let onQuery: (accession: string) => boolean = () => false;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "findscu-pacing-"));
  const archive = join(dir, "archive");
  await generateArchive({
    out: archive,
    patients: 12,
    seed: "pacing",
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 1,
    rows: 8,
    cols: 8,
  });
  pacs = await startDevPacs({ dir: archive });
  // Rows are the accession numbers of exactly one study (generated numbers may repeat).
  const uids = new Map<string, Set<string>>();
  for (const i of pacs.archive.instances.values()) {
    const a = i.head.string(Tags.AccessionNumber) ?? "";
    if (!uids.has(a)) uids.set(a, new Set());
    uids.get(a)!.add(i.studyUid);
  }
  for (const [a, set] of uids) if (a && set.size === 1) studies.set(a, [...set][0]!);
  assert.ok(studies.size >= 10, `${studies.size} unique accession numbers`);
  const find = pacs.archive.find.bind(pacs.archive);
  pacs.archive.find = function* (identifier, level) {
    const accession = identifier.string(Tags.AccessionNumber) ?? "";
    if (onQuery(accession)) return;
    answered.push(accession);
    yield* find(identifier, level);
  };
  table = join(dir, "accessions.csv");
  await writeFile(
    table,
    `Query,AccessionNumber\n${[...studies.keys()].map((a, i) => `row${i + 1},${a}`).join("\n")}\n`,
  );
});

after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const args = (extra: string[]) => [
  "-S",
  "-aec",
  "DEVPACS",
  "--queries",
  table,
  "-k",
  "StudyInstanceUID",
  "-sr",
  ...extra,
  "127.0.0.1",
  String(pacs.port),
];

/** Each row's matches, by query id, checked against the archive. */
function checkResults(recs: Record<string, unknown>[]): Set<string> {
  const rows = new Set<string>();
  const accessions = [...studies.keys()];
  for (const r of recs) {
    const id = String(r.query);
    const accession = accessions[Number(id.replace("row", "")) - 1]!;
    assert.equal(r.AccessionNumber, accession, `${id} answers its own row`);
    assert.equal(r.StudyInstanceUID, studies.get(accession));
    assert.ok(!rows.has(id), `${id} once`);
    rows.add(id);
  }
  return rows;
}

test("-j 3: every row answered once and correctly, on three associations", async () => {
  answered = [];
  const r = await runBin("findscu-ts", args(["-j", "3", "-v"]));
  assert.equal(r.code, 0, r.stderr);
  const rows = checkResults(ndjson(r.stdout));
  assert.equal(rows.size, studies.size);
  assert.deepEqual([...answered].sort(), [...studies.keys()].sort());
  const associations = r.stderr.split("\n").filter((l) => l.endsWith("Requesting Association"));
  assert.equal(associations.length, 3, r.stderr);
  const releases = r.stderr.split("\n").filter((l) => l.endsWith("Releasing Association"));
  assert.equal(releases.length, 3, "each association released once");
});

test("--journal: killed with SIGKILL and run again, every row is answered exactly once", async () => {
  answered = [];
  const journal = join(dir, "q.journal");
  const accessions = [...studies.keys()];
  // The archive kills findscu-ts when the 6th query arrives, before answering it.
  let child: ChildProcess | undefined;
  let arrived = 0;
  onQuery = () => {
    if (++arrived !== 6) return false;
    child?.kill("SIGKILL");
    return true;
  };
  const first = startBin("findscu-ts", args(["--journal", journal]));
  child = first.child;
  const killed = await first.done;
  onQuery = () => false;
  assert.equal(killed.signal, "SIGKILL");
  const done = (await readFile(journal, "utf8")).split("\n").filter(Boolean);
  assert.equal(done.length, 5, "five queries completed and journalled");
  assert.deepEqual(answered, accessions.slice(0, 5));

  const again = await runBin("findscu-ts", args(["--journal", journal, "-v"]));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr.match(/already queried \(journal\)/g)?.length, 5);
  // The union of both outputs has every row once; the archive answered each row once.
  const rows = checkResults([...ndjson(killed.stdout), ...ndjson(again.stdout)]);
  assert.equal(rows.size, studies.size);
  assert.deepEqual([...answered].sort(), [...accessions].sort());
  assert.equal((await readFile(journal, "utf8")).split("\n").filter(Boolean).length, studies.size);

  // A third run has nothing left to ask.
  answered = [];
  const third = await runBin("findscu-ts", args(["--journal", journal]));
  assert.equal(third.code, 0, third.stderr);
  assert.equal(third.stdout, "");
  assert.deepEqual(answered, []);
});

test("--throttle and --batch-size/--batch-wait pace a batch", async () => {
  answered = [];
  const started = Date.now();
  const r = await runBin(
    "findscu-ts",
    args(["--throttle", "0.1", "--batch-size", "4", "--batch-wait", "0.5", "-v"]),
  );
  const ms = Date.now() - started;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(checkResults(ndjson(r.stdout)).size, studies.size);
  // n queries: n - 1 throttle pauses of 0.1 s at least, a batch pause of 0.5 s after every 4.
  const n = studies.size;
  const pauses = Math.floor((n - 1) / 4);
  assert.ok(ms >= (n - 1) * 100 + pauses * 500, `took ${ms} ms`);
  assert.equal(r.stderr.match(/requests sent; pausing 0.5 s/g)?.length, pauses, r.stderr);
});

test("--window outside the current time waits, and SIGTERM ends the wait", async () => {
  const now = new Date();
  const h = (now.getUTCHours() + 2) % 24;
  const window = `${String(h).padStart(2, "0")}:00-${String((h + 1) % 24).padStart(2, "0")}:00`;
  answered = [];
  const p = startBin("findscu-ts", args(["--window", window, "--tz", "UTC", "-v"]));
  // Signalled once it waits (its signal handling is in place by then).
  assert.ok(
    await until(() => /outside the time window/.test(p.err()) || p.child.exitCode !== null),
    p.err(),
  );
  p.child.kill("SIGTERM");
  const r = await p.done;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /outside the time window; waiting until \d\d:00 \(UTC\)/);
  assert.deepEqual(answered, [], "no query sent outside the window");
});
