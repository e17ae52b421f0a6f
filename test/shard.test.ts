/**
 * --shard K/N: three shards run in parallel against the dev PACS split one
 * input between them, disjoint, and together give what the unsharded run
 * gives (findscu-ts batch queries, getscu-ts retrievals into one folder).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { parseShard, shardOf } from "@dicom-pipes/dimse/records";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { filesUnder } from "@dicom-pipes/test-support/files";
import { sourceInstances } from "@dicom-pipes/test-support/retrieve";

let dir: string;
let archive: string;
let pacs: DevPacs;
let studies: string;
let nStudies = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "shard-"));
  archive = join(dir, "archive");
  await generateArchive({
    out: archive,
    patients: 12,
    seed: "shard",
    studiesPerPatient: [1, 3],
    seriesPerStudy: [1, 3],
    instancesPerSeries: [1, 2],
  });
  pacs = await startDevPacs({ dir: archive });
  const r = await runBin("findscu-ts", [
    "-S",
    "-sr",
    "-aec",
    pacs.aet,
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
    "-k",
    "PatientID",
    "127.0.0.1",
    String(pacs.port),
  ]);
  assert.equal(r.code, 0, r.stderr);
  studies = join(dir, "studies.ndjson");
  await writeFile(studies, r.stdout);
  nStudies = ndjson(r.stdout).length;
  assert.ok(nStudies >= 15, `${nStudies} studies`);
});
after(async () => {
  await pacs?.close();
  await rm(dir, { recursive: true, force: true });
});

const peer = () => ["-aec", pacs.aet, "127.0.0.1", String(pacs.port)];

test("parseShard takes K/N with 1 <= K <= N and names what it expected otherwise", () => {
  assert.deepEqual(parseShard("2/3"), { index: 2, count: 3 });
  for (const bad of ["0/3", "4/3", "3", "1/0", "a/b", "1/3/4"])
    assert.throws(() => parseShard(bad), /expected K\/N with 1 <= K <= N/, bad);
});

test("the shard of a record depends on its UIDs only, or on the whole row when it has none", () => {
  const a = { StudyInstanceUID: "1.2.3", PatientID: "A" };
  assert.equal(shardOf(a, 7), shardOf({ StudyInstanceUID: "1.2.3", PatientID: "B", query: 9 }, 7));
  const row = { PatientID: "P1", StudyDate: "20240101" };
  assert.equal(shardOf(row, 5), shardOf({ StudyDate: "20240101", PatientID: "P1" }, 5));
  const counts = [0, 0, 0];
  for (let i = 0; i < 3000; i++) counts[shardOf({ StudyInstanceUID: `1.2.${i}` }, 3) - 1]!++;
  for (const c of counts) assert.ok(c > 900 && c < 1100, `balanced: ${counts.join(" ")}`);
});

test("findscu-ts: three shards of a batch, in parallel, are disjoint and their union is the unsharded run", async () => {
  const args = [
    "-S",
    "-sr",
    "--queries",
    studies,
    "-k",
    "QueryRetrieveLevel=SERIES",
    "-k",
    "SeriesInstanceUID",
    ...peer(),
  ];
  const all = await runBin("findscu-ts", args);
  assert.equal(all.code, 0, all.stderr);
  const shards = await Promise.all(
    [1, 2, 3].map((k) => runBin("findscu-ts", ["--shard", `${k}/3`, ...args])),
  );
  const seen = new Map<string, number>();
  for (const [i, r] of shards.entries()) {
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.ok(recs.length > 0, `shard ${i + 1} is not empty`);
    for (const rec of recs) {
      const uid = String(rec.SeriesInstanceUID);
      assert.ok(!seen.has(uid), `${uid} in shards ${seen.get(uid)} and ${i + 1}`);
      seen.set(uid, i + 1);
    }
  }
  assert.deepEqual(
    [...seen.keys()].sort(),
    ndjson(all.stdout)
      .map((r) => String(r.SeriesInstanceUID))
      .sort(),
  );
});

test("getscu-ts: three shards retrieve into one folder, each with its own journal; the files equal the archive's", async () => {
  const od = join(dir, "got");
  await rm(od, { recursive: true, force: true });
  await import("node:fs/promises").then((fs) => fs.mkdir(od));
  const shards = await Promise.all(
    [1, 2, 3].map((k) =>
      runBin("getscu-ts", ["--shard", `${k}/3`, "-od", od, "--input", studies, ...peer()]),
    ),
  );
  const retrieved = new Set<string>();
  for (const r of shards) {
    assert.equal(r.code, 0, r.stderr);
    for (const rec of ndjson(r.stdout)) {
      assert.equal(rec.status, "Success");
      const uid = String(rec.StudyInstanceUID);
      assert.ok(!retrieved.has(uid), `${uid} retrieved twice`);
      retrieved.add(uid);
    }
  }
  assert.equal(retrieved.size, nStudies);
  const journals = (await readdir(od)).filter((f) => f.endsWith(".journal")).sort();
  assert.deepEqual(
    journals,
    [1, 2, 3].map((k) => `.movescu-ts.shard-${k}-of-3.journal`),
  );
  const files = (await filesUnder(od)).filter((f) => !f.startsWith("."));
  assert.equal(files.length, (await sourceInstances(archive)).size);
  // A rerun of a shard asks nothing again (its journal).
  const again = await runBin("getscu-ts", [
    "-v",
    "--shard",
    "2/3",
    "-od",
    od,
    "--input",
    studies,
    ...peer(),
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /Requesting Association/);
});

test("--shard needs batch input, and a well-formed K/N", async () => {
  let r = await runBin("findscu-ts", [
    "--shard",
    "1/2",
    "-S",
    "-k",
    "QueryRetrieveLevel=STUDY",
    ...peer(),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--shard needs batch input/);
  r = await runBin("movescu-ts", ["--shard", "3/2", "--input", studies, ...peer()]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /--shard: invalid shard 3\/2 \(expected K\/N with 1 <= K <= N, e\.g\. 2\/3\)/,
  );
});
