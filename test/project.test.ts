/**
 * examples/project/Makefile against the dev PACS: the whole flow from an
 * accession list (make -j4 from a clean folder): the report's figures
 * checked against the archive, the de-identified copies and their DICOMDIR, and a kill -9 in the middle of the
 * retrieval followed by `make`, which completes without loss or duplicates.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { ndjson, ROOT, until } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";
import { filesUnder } from "@dicom-pipes/test-support/files";
import {
  checkReceived,
  sourceInstances,
  type SourceInstance,
} from "@dicom-pipes/test-support/retrieve";

const hasMake = spawnSync("make", ["--version"]).status === 0;
const skip = hasMake ? false : "make is required";
const PROJECT = join(ROOT, "examples", "project");

let dir: string;
let pacs: DevPacs;
let movePort: number;
let source: Map<string, SourceInstance>;
let targets: string;
/** The accessions asked for that the archive has, and their studies. */
const wanted = new Map<string, { study: string; patient: string }>();

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "project-"));
  const archive = join(dir, "archive");
  await generateArchive({
    out: archive,
    patients: 8,
    seed: "project",
    studiesPerPatient: [1, 3],
    seriesPerStudy: [2, 3],
    instancesPerSeries: [3, 6],
    rows: 16,
    cols: 16,
  });
  movePort = await freePort();
  pacs = await startDevPacs({
    dir: archive,
    moveDestinations: { ME: { host: "127.0.0.1", port: movePort } },
  });
  const studies = new Map<string, { accession: string; patient: string }>();
  for (const i of pacs.archive.instances.values()) {
    const accession = i.head.string(0x00080050) ?? "";
    studies.set(i.studyUid, { accession, patient: i.head.string(0x00100020) ?? "" });
  }
  // Every other study that has an accession number, plus two accessions the archive does not have.
  const picked = [...studies]
    .filter(([, s]) => s.accession !== "")
    .sort(([a], [b]) => a.localeCompare(b))
    .filter((_, i) => i % 2 === 0);
  for (const [study, s] of picked) wanted.set(s.accession, { study, patient: s.patient });
  assert.equal(wanted.size, picked.length, "accession numbers are unique");
  targets = join(dir, "accessions.csv");
  await writeFile(
    targets,
    `${["AccessionNumber", ...wanted.keys(), "NOTHERE1", "NOTHERE2"].join("\r\n")}\r\n`,
  );
  const all = await sourceInstances(archive);
  const studySet = new Set([...wanted.values()].map((w) => w.study));
  source = new Map(
    [...all].filter(([sop]) => studySet.has(pacs.archive.instances.get(sop)!.studyUid)),
  );
});
after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function makeArgs(out: string, extra: string[] = []): string[] {
  return [
    "-C",
    PROJECT,
    `OUT=${out}`,
    `TARGETS=${targets}`,
    `BIN=${join(ROOT, "node_modules", ".bin")}/`,
    "PEER=127.0.0.1",
    `PORT=${pacs.port}`,
    `AEC=${pacs.aet}`,
    "AEM=ME",
    `MOVE_PORT=${movePort}`,
    ...extra,
  ];
}

function make(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("make", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function assertRetrieved(out: string): Promise<void> {
  const data = join(out, "data");
  const files = (await filesUnder(data)).filter((f) => !f.startsWith("."));
  const check = await checkReceived(data, files, source);
  assert.deepEqual(check.duplicates, []);
  assert.deepEqual(check.unknown, []);
  assert.deepEqual(check.differing, []);
  assert.deepEqual(check.uids, [...source.keys()].sort());
  assert.deepEqual(
    (await filesUnder(data, { hidden: true })).filter((f) =>
      /\.(tmp|part)$|\.incoming|\.movescu-ts-/.test(f),
    ),
    [],
    "no temporary files",
  );
  const results = ndjson(await readFile(join(out, "retrieved.ndjson"), "utf8"));
  assert.deepEqual(
    results.map((r) => String(r.StudyInstanceUID)).sort(),
    [...wanted.values()].map((w) => w.study).sort(),
  );
  for (const r of results) assert.equal(r.status, "Success");
}

/** The de-identified copies: one per instance, none holding an original PatientID or accession; a DICOMDIR over them. */
async function assertReleased(out: string): Promise<void> {
  const anon = ndjson(await readFile(join(out, "anon.ndjson"), "utf8")).filter(
    (r) => r.status === "ok",
  );
  assert.equal(anon.length, source.size);
  const files = (await filesUnder(join(out, "anon"))).filter((f) => !f.startsWith("."));
  assert.equal(files.length, source.size);
  const identifiers = [...wanted.values()].map((w) => w.patient).concat([...wanted.keys()]);
  for (const f of files) {
    const bytes = (await readFile(join(out, "anon", f))).toString("latin1");
    for (const id of identifiers) assert.ok(!bytes.includes(id), `${f} holds ${id}`);
  }
  const listed = spawnSync(
    process.execPath,
    [join(ROOT, "packages/dcmdir/bin/dcmdir.js"), "list", join(out, "media", "DICOMDIR")],
    { encoding: "utf8" },
  );
  assert.equal(listed.status, 0, listed.stderr);
  assert.equal(ndjson(listed.stdout).length, source.size);
  assert.ok(!existsSync(join(out, "media.tmp")));
}

test("make -j4 from a clean folder: studies, series, the report, every wanted instance once, de-identified, on a disc folder", {
  skip,
}, async () => {
  const out = join(dir, "out1");
  const r = await make(makeArgs(out, ["-j4"]));
  assert.equal(r.code, 0, r.stderr);
  const report = await readFile(join(out, "report.txt"), "utf8");
  assert.match(report, new RegExp(`^targets: +${wanted.size + 2}$`, "m"));
  assert.match(report, new RegExp(`^targets found: +${wanted.size}$`, "m"));
  assert.match(report, new RegExp(`^studies: +${wanted.size}$`, "m"));
  assert.match(
    report,
    new RegExp(
      `^unique patients: +${new Set([...wanted.values()].map((w) => w.patient)).size}$`,
      "m",
    ),
  );
  assert.match(report, new RegExp(`^expected instances: +${source.size}$`, "m"));
  assert.match(report, /^targets not found:\n {2}NOTHERE1\n {2}NOTHERE2\n/m);
  await assertRetrieved(out);
  await assertReleased(out);
  // Nothing left to do, and `make report` alone is a no-op too.
  const again = await make(makeArgs(out, ["report", "all"]));
  assert.equal(again.code, 0);
  assert.match(again.stdout, /Nothing to be done for 'report'/);
});

test("kill -9 in the middle of the retrieval, then make: completes, no loss, no duplicates", {
  skip,
}, async () => {
  const out = join(dir, "out2");
  const child = spawn("make", makeArgs(out, ["MOVE_OPTS=--throttle 0.4", "JOBS=1", "retrieve"]), {
    stdio: "ignore",
    detached: true,
  });
  const closed = new Promise((r) => child.once("close", r));
  const journal = join(out, "data", ".movescu-ts.journal");
  const started = await until(
    async () =>
      existsSync(journal) &&
      (await readFile(journal, "utf8")).split("\n").filter(Boolean).length >= 2,
    60000,
    50,
  );
  assert.ok(started, "the retrieval started");
  process.kill(-child.pid!, "SIGKILL");
  await closed;
  assert.ok(!existsSync(join(out, "retrieved.ndjson")), "no results file after the kill");
  const r = await make(makeArgs(out));
  assert.equal(r.code, 0, r.stderr);
  await assertRetrieved(out);
  await assertReleased(out);
});
