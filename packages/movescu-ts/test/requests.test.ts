/**
 * movescu-ts requests from -k keys against a scripted C-MOVE SCP: a
 * retrieve without the unique key of its level is a usage error before
 * any association; invalid -k dates are too; stdin without '-' is left
 * unread, with a warning.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runBin, runShell, shellWord } from "@dicom-pipes/test-support/bins";
import { scriptedMoveScp, type MoveScp } from "./scripted-move.js";

let scp: MoveScp;

before(async () => {
  scp = await scriptedMoveScp();
});

after(async () => {
  await scp?.close();
});

const peer = () => ["127.0.0.1", String(scp.port)];

for (const [keys, missing] of [
  [["QueryRetrieveLevel=STUDY"], "StudyInstanceUID"],
  [["QueryRetrieveLevel=STUDY", "StudyInstanceUID="], "StudyInstanceUID"],
  [["QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.*"], "StudyInstanceUID"],
  [["QueryRetrieveLevel=SERIES", "StudyInstanceUID=1.2.3"], "SeriesInstanceUID"],
  [["QueryRetrieveLevel=SERIES", "SeriesInstanceUID=1.2.3.4"], "StudyInstanceUID"],
  [
    ["QueryRetrieveLevel=IMAGE", "StudyInstanceUID=1.2.3", "SeriesInstanceUID=1.2.3.4"],
    "SOPInstanceUID",
  ],
  [["QueryRetrieveLevel=PATIENT"], "PatientID"],
] as const) {
  test(`-k ${keys.join(" -k ")}: exit 2 naming ${missing}, nothing sent`, async () => {
    const sent = scp.associations;
    const r = await runBin("movescu-ts", [
      "-S",
      "-aec",
      "SCRIPTED",
      ...keys.flatMap((k) => ["-k", k]),
      ...peer(),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^E: movescu-ts: -k keys: a \\w+-level retrieve needs ${missing} `, "m"),
    );
    assert.equal(r.stdout, "");
    assert.equal(scp.associations, sent, "no association");
  });
}

test("a retrieve with its unique keys is sent (PatientID stays optional above PATIENT level, as in DCMTK)", async () => {
  const moves = scp.moves;
  const r = await runBin("movescu-ts", [
    "-P",
    "-aec",
    "SCRIPTED",
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID=1.2.3",
    ...peer(),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(scp.moves, moves + 1);
});

test("-k StudyDate=2024-13-45 is a usage error (exit 2)", async () => {
  const r = await runBin("movescu-ts", [
    "-S",
    "-aec",
    "SCRIPTED",
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID=1.2.3",
    "-k",
    "StudyDate=2024-13-45",
    ...peer(),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^E: movescu-ts: -k StudyDate: "2024-13-45" is not a date range/m);
});

test("stdin without '-' is not read: a warning, one request, and a while-read loop keeps its input", async () => {
  const args = [
    "-S",
    "-aec",
    "SCRIPTED",
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID=1.2.3",
    ...peer(),
  ].join(" ");
  const moves = scp.moves;
  const piped = await runShell(
    `printf 'StudyInstanceUID\\n1.2.4\\n1.2.5\\n' | ${shellWord("movescu-ts")} ${args}`,
  );
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stderr, "W: movescu-ts: stdin is not read; add '-' to use it as queries\n");
  assert.equal(scp.moves, moves + 1);
  const loop = await runShell(
    `printf 'a\\nb\\nc\\n' | while read x; do echo "$x"; ${shellWord("movescu-ts")} ${args} > /dev/null 2>&1; done`,
  );
  assert.equal(loop.stdout, "a\nb\nc\n", "the loop read every line");
  assert.equal(scp.moves, moves + 4);
});
