/**
 * --retries against a real peer: DCMTK storescp starts only after the
 * first attempts were refused (nothing listening on the port), so
 * storescu-ts must retry until the archive is up.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { freePort, hasDcmtk, tcpProbe } from "@dicom-pipes/test-support/peers";
import { ndjson, startBin, until } from "@dicom-pipes/test-support/bins";
import { metaOf } from "@dicom-pipes/test-support/files";

const skip = hasDcmtk() ? false : "DCMTK is required (apt-get install dcmtk)";
const HOST = "127.0.0.1";

let work: string;
let file: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "retries-interop-"));
  const files: string[] = [];
  const out = join(work, "src");
  await generateArchive({
    out,
    patients: 1,
    seed: "retries-interop",
    studiesPerPatient: 1,
    seriesPerStudy: [1, 1],
    instancesPerSeries: 1,
    rows: 8,
    layout: "flat",
    onInstance: (_n, i) => files.push(join(out, ...i.relPath.split("/"))),
  });
  file = files[0]!;
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test("storescu-ts --retries: refused while DCMTK storescp is down, stored once it listens", {
  skip,
}, async () => {
  const port = await freePort();
  const od = join(work, "od");
  await mkdir(od);
  const run = startBin("storescu-ts", [
    "--retries",
    "6",
    "--retry-wait",
    "0.3",
    "-aec",
    "STORESCP",
    HOST,
    String(port),
    file,
  ]);
  let scp: ChildProcess | undefined;
  try {
    assert.ok(await until(() => /retry 1 of 6/.test(run.err()), 20000), run.err());
    assert.match(
      run.err(),
      /W: storescu-ts: association failed \(0006:031c TCP Initialization Error: Connection refused\); retry 1 of 6 in [\d.]+ s/,
    );
    scp = spawn("storescp", ["-aet", "STORESCP", "-od", od, String(port)], { stdio: "ignore" });
    assert.ok(await until(() => tcpProbe(port), 15000), "storescp listens");
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const [rec] = ndjson(r.stdout);
    assert.equal(rec?.status, "Success");
    assert.ok(Number(rec?.attempts) >= 2, `attempts ${String(rec?.attempts)}`);
    const stored = await readdir(od);
    assert.equal(stored.length, 1);
    assert.equal(metaOf(join(od, stored[0]!)).sopInstanceUid, metaOf(file).sopInstanceUid);
  } finally {
    run.child.kill();
    scp?.kill();
  }
});
