/**
 * Pipeline: storescu-ts → storescp-ts (records with "path") | dcmanon - → de-identified files
 * | storescu-ts → DCMTK storescp, then dcmdump on what DCMTK received.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { hasDcmtk, runDcmtk, startStorescp } from "@dicom-pipes/test-support/peers";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { startStorescpTs } from "@dicom-pipes/test-support/corpus";
import { filesUnder } from "@dicom-pipes/test-support/files";

const skip = hasDcmtk() ? false : "DCMTK is required (apt-get install dcmtk)";
const work = await mkdtemp(join(tmpdir(), "anon-pipeline-"));
after(() => rm(work, { recursive: true, force: true }));

test("storescp-ts records | dcmanon - | storescu-ts → DCMTK storescp: every file de-identified and accepted", {
  skip,
}, async () => {
  const src = join(work, "src");
  const summary = await generateArchive({
    out: src,
    patients: 2,
    seed: "anon-pipeline",
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 3,
    layout: "flat",
  });
  const spool = join(work, "spool");
  await mkdir(spool);
  const scp = await startStorescpTs([], { od: spool });
  const sent = await runBin("storescu-ts", [
    "127.0.0.1",
    String(scp.port),
    ...(await filesUnder(src)).map((f) => join(src, f)),
  ]);
  assert.equal(sent.code, 0, sent.stderr);
  const received = await scp.stop();
  const records = ndjson(received.stdout);
  assert.equal(records.length, summary.instances);
  for (const r of records) assert.match(String(r.SOPInstanceUID), /^[\d.]+$/);

  await writeFile(join(work, "key"), "pipeline-secret-0123456789abcdef0123456789");
  const anon = await runBin("dcmanon", ["--secret-file", "key", "-o", "anon", "-"], {
    cwd: work,
    input: received.stdout,
  });
  assert.equal(anon.code, 0, anon.stderr);
  const results = ndjson(anon.stdout);
  assert.deepEqual(
    results.map((r) => r.status),
    records.map(() => "ok"),
  );

  const dcmtkDir = join(work, "dcmtk");
  await mkdir(dcmtkDir);
  const peer = await startStorescp({ dir: dcmtkDir });
  try {
    const fwd = await runBin("storescu-ts", ["127.0.0.1", String(peer.port), "-"], {
      cwd: work,
      input: results.map((r) => `${r.out as string}\n`).join(""),
    });
    assert.equal(fwd.code, 0, fwd.stderr);
  } finally {
    await peer.stop();
  }
  const stored = await filesUnder(dcmtkDir);
  assert.equal(stored.length, summary.instances);
  for (const f of stored) {
    const d = await runDcmtk("dcmdump", ["-E", join(dcmtkDir, f)]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /\(0012,0062\) CS \[YES\]/);
    assert.doesNotMatch(d.stdout, /^\((\w{3}[13579bdf]),/im, "no private group");
    for (const r of records)
      assert.ok(!d.stdout.includes(r.SOPInstanceUID as string), "no original SOP Instance UID");
  }
});
