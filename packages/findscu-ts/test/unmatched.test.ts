/**
 * findscu-ts query tables: rows that match nothing or fail give a record
 * with a status, and `--unmatched FILE` writes them back in the input's
 * columns. Against a scripted archive whose answers per accession number
 * are set here (found, none, failure), so every expected value is known
 * before the run.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tags } from "@dicom-pipes/dimse/dicom";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { scriptedScp, study, type Recorder } from "./scripted.js";

let dir: string;
let scp: Recorder;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "findscu-unmatched-"));
  scp = await scriptedScp({
    async onFind(c) {
      const acc = c.identifier.string(Tags.AccessionNumber) ?? "";
      if (acc === "ACC1") await c.pending(study("1.2.3.1", { AccessionNumber: "ACC1" }));
      if (acc === "BAD") return c.final(0xc001 + 1, "no such index");
      await c.final(0x0000);
    },
  });
});

after(async () => {
  await scp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const find = (args: string[]) =>
  runBin("findscu-ts", [
    "-S",
    "-aec",
    "SCP",
    "-k",
    "StudyInstanceUID",
    ...args,
    "127.0.0.1",
    String(scp.port),
  ]);

const TABLE = "Accession Number,ID\nACC1,first\nNONE,second\n";

test("a row without a match: a no-match record with the row's values; exit 0; --unmatched has the row as read", async () => {
  const table = join(dir, "q.csv");
  await writeFile(table, TABLE);
  const unmatched = join(dir, "unmatched.csv");
  const r = await find(["--queries", table, "--unmatched", unmatched]);
  assert.equal(r.code, 0, r.stderr);
  const recs = ndjson(r.stdout);
  assert.equal(recs.length, 2);
  assert.equal(recs[0]!.query, "first");
  assert.equal(recs[0]!.StudyInstanceUID, "1.2.3.1");
  assert.equal(recs[0]!.status, undefined, "a match has no status");
  assert.deepEqual(recs[1], { query: "second", AccessionNumber: "NONE", status: "no-match" });
  // The input's header (aliases as written) and column order.
  assert.equal(await readFile(unmatched, "utf8"), "Accession Number,ID\nNONE,second\n");
});

test("--format csv: a status column, empty for matches", async () => {
  const table = join(dir, "q.csv");
  await writeFile(table, TABLE);
  const r = await find(["--queries", table, "--format", "csv"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "query,AccessionNumber,StudyInstanceUID,status\nfirst,ACC1,1.2.3.1,\nsecond,NONE,,no-match\n",
  );
});

test("a failed row: a failed record with the status, exit 3, in --unmatched with the rows without a match", async () => {
  const table = join(dir, "bad.csv");
  await writeFile(table, "AccessionNumber\nBAD\nACC1\nNONE\n");
  const unmatched = join(dir, "bad-unmatched.csv");
  const r = await find(["--queries", table, "--unmatched", unmatched]);
  assert.equal(r.code, 3, r.stderr);
  const recs = ndjson(r.stdout);
  const bad = recs.find((x) => x.query === 2)!;
  assert.equal(bad.status, "failed");
  assert.equal(bad.error, "Failed: UnableToProcess (0xC002): no such index");
  assert.equal(bad.AccessionNumber, "BAD");
  assert.equal(await readFile(unmatched, "utf8"), "AccessionNumber\nBAD\nNONE\n");
});

test("--unmatched without a query table is a usage error", async () => {
  const r = await find(["-k", "AccessionNumber=X", "--unmatched", join(dir, "u.csv")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--unmatched needs a query table/);
});

test("no-match and failed records read back as queries are skipped: they would ask for every series", async () => {
  const from = scp.finds.length;
  const input =
    '{"query":2,"AccessionNumber":"NONE","status":"no-match"}\n' +
    '{"query":3,"AccessionNumber":"BAD","status":"failed","error":"x"}\n' +
    '{"query":4,"StudyInstanceUID":"1.2.3.1","AccessionNumber":"ACC1"}\n';
  const r = await runBin(
    "findscu-ts",
    [
      "-S",
      "-aec",
      "SCP",
      "-k",
      "QueryRetrieveLevel=SERIES",
      "-k",
      "SeriesInstanceUID",
      "127.0.0.1",
      String(scp.port),
      "-",
    ],
    { input },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    scp.finds.slice(from).map((ds) => ds.string(Tags.StudyInstanceUID)),
    ["1.2.3.1"],
    "one C-FIND, for the record with a study",
  );
});
