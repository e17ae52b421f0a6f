/**
 * One CLI family: `-q/-v/-d/-ll` mean the same in the DCMTK-style tools
 * (findscu-ts) and the yargs tools (inst-count): DCMTK's meaning, checked
 * against DCMTK findscu itself. `-q` is quiet mode (no warnings and no
 * errors: DCMTK findscu -q prints nothing for a refused association), and
 * of `-q/-v/-d` the rightmost wins.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { runBin } from "@dicom-pipes/test-support/bins";
import { freePort, hasDcmtk } from "@dicom-pipes/test-support/peers";

const refused = async (tool: "findscu-ts" | "findscu", flags: string[]) => {
  const port = String(await freePort());
  const args = [...flags, "-S", "-k", "QueryRetrieveLevel=STUDY", "127.0.0.1", port];
  if (tool === "findscu-ts") return runBin(tool, args);
  const r = spawnSync("findscu", args, { encoding: "latin1" });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
};

test("-q: a refused association is not reported, as DCMTK findscu -q", async () => {
  const ours = await refused("findscu-ts", ["-q"]);
  assert.equal(ours.code, 61);
  assert.equal(ours.stderr, "");
  if (hasDcmtk()) {
    const dcmtk = await refused("findscu", ["-q"]);
    assert.equal(dcmtk.stderr, "", "DCMTK findscu -q prints nothing either");
    const loud = await refused("findscu", []);
    assert.match(loud.stderr, /Association Request Failed/, "and prints it without -q");
  }
  const loud = await refused("findscu-ts", []);
  assert.match(loud.stderr, /^E: findscu-ts: Association Request Failed/m);
});

test("-q in a yargs tool is the same quiet mode: no errors either", async () => {
  const quiet = await runBin("inst-count", ["-q", "/nonexistent/records.ndjson"]);
  assert.equal(quiet.code, 2);
  assert.equal(quiet.stderr, "");
  const loud = await runBin("inst-count", ["/nonexistent/records.ndjson"]);
  assert.equal(loud.code, 2);
  assert.match(loud.stderr, /^E: inst-count: .*no such file/m);
});

test("of -q, -v and -d the rightmost wins, in both families", async () => {
  for (const [flags, shown] of [
    [["-q", "-v"], true],
    [["-v", "-q"], false],
    [["-d", "-q"], false],
    [["-q", "-d"], true],
  ] as const) {
    const find = await refused("findscu-ts", [...flags]);
    assert.equal(/Association Request Failed/.test(find.stderr), shown, `findscu-ts ${flags}`);
    const count = await runBin("inst-count", [...flags, "/nonexistent/records.ndjson"]);
    assert.equal(/no such file/.test(count.stderr), shown, `inst-count ${flags}`);
  }
});

test("-ll cannot be combined with -q/-v/-d in either family", async () => {
  for (const tool of ["findscu-ts", "inst-count"]) {
    const r = await runBin(tool, ["-ll", "info", "-q", "x"]);
    assert.equal(r.code, 2, `${tool}: ${r.stderr}`);
    assert.match(r.stderr, /--log-level not allowed with --verbose, --debug or --quiet/);
  }
});
