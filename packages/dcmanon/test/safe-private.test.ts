// --retain-safe-private: PS3.15 Table E.3.10-1 safe private attributes kept by private creator and
// offset in the block (wherever the block is), every other private element removed, the option's
// CID 7050 code in (0012,0064), the residual scan over kept values. Fixtures from test/fixtures.py
// (pydicom); outputs read with DCMTK's dcmdump; the real bin is spawned.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { dcm2json, makeFixtures } from "./helpers.js";

let root = "";

before(() => {
  root = makeFixtures("dcmanon-safe-");
  writeFileSync(join(root, "k1"), "k1-0123456789abcdef0123456789abcdef-secret");
});

async function anon(args: string[]) {
  return runBin("dcmanon", ["--secret-file", "k1", ...args], { cwd: root });
}

/** The private (odd group) elements dcmdump shows at the top level: `gggg,eeee value` (VR `??` when DCMTK does not know it). */
function privateElements(path: string): string[] {
  const r = spawnSync("dcmdump", ["+L", path], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^\(([0-9a-f]{4}),([0-9a-f]{4})\) \S\S (.*?)\s+#/.exec(line);
    if (m && parseInt(m[1]!, 16) % 2 === 1) out.push(`${m[1]},${m[2]} ${m[3]}`);
  }
  return out;
}

test("--retain-safe-private keeps exactly the listed elements (by creator and offset, in moved blocks, of the listed VR) and their creators", async () => {
  const r = await anon(["--retain-safe-private", "-o", "out1", "S/safe.dcm", "S/leak.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  const [ok, leak] = ndjson(r.stdout);
  assert.equal(ok!.status, "ok", r.stdout);
  assert.deepEqual(privateElements(join(root, ok!.out as string)), [
    "0019,0012 [GEMS_ACQU_01]",
    "0019,0014 [SIEMENS MR HEADER]",
    "0019,1223 [39.37]",
    "0019,1224 [0.5]",
    "0019,140c [1000]",
    "2001,0011 [Philips Imaging DD 001]",
    "2001,1150 [ARROW]",
  ]);
  // (0012,0064) has the Basic Profile and Retain Safe Private Option (CID 7050 113111).
  const ds = dcm2json(join(root, ok!.out as string));
  const codes = (ds["00120064"]!.Value as Array<Record<string, { Value: string[] }>>).map(
    (i) => i["00080100"]!.Value[0],
  );
  assert.deepEqual(codes, ["113100", "113111"]);
  assert.deepEqual(ok!.options, ["113100", "113111"]);
  // The residual scan reads kept private values too.
  assert.equal(leak!.status, "quarantined", r.stdout);
  assert.match(leak!.reason as string, /residual identifier: .* in \(2001,1150\)/);
});

test("--retain-safe-private in implicit VR: listed elements kept by creator and offset (the VR is not in the file)", async () => {
  const r = await anon(["--retain-safe-private", "-o", "out2", "S/safe-implicit.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  const [ok] = ndjson(r.stdout);
  assert.equal(ok!.status, "ok", r.stdout);
  const kept = privateElements(join(root, ok!.out as string)).map((l) => l.slice(0, 9));
  assert.deepEqual(kept, [
    "0019,0012",
    "0019,0014",
    "0019,1223",
    "0019,1224",
    "0019,140c",
    "0019,140d",
    "2001,0011",
    "2001,1150",
  ]);
});

test("without --retain-safe-private every private element is removed", async () => {
  const r = await anon(["-o", "out3", "S/safe.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  const [ok] = ndjson(r.stdout);
  assert.equal(ok!.status, "ok", r.stdout);
  assert.deepEqual(privateElements(join(root, ok!.out as string)), []);
  assert.deepEqual(ok!.options, ["113100"]);
});
