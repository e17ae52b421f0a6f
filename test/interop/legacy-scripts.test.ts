/**
 * Legacy shell scripts written for DCMTK (test/legacy/*.sh) run twice against
 * the same dcmqrscp: once with DCMTK's findscu/movescu/getscu/storescu/echoscu,
 * once with `dcmtk-shims` first on PATH. Same stdout, same exit status, same
 * files (names, and datasets byte for byte).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { shimsDir } from "../../packages/dcmtk-shims/src/main.js";
import {
  freePort,
  hasDcmtk,
  startDcmqrscp,
  startStorescp,
  type DcmqrscpPeer,
} from "@dicom-pipes/test-support/peers";
import { datasetBytes, filesUnder } from "@dicom-pipes/test-support/files";
import { ROOT } from "@dicom-pipes/test-support/bins";

const skip = !hasDcmtk() ? "DCMTK is required (apt-get install dcmtk)" : false;
const SCRIPTS = join(ROOT, "test", "legacy");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let nodeLogger: string;
let nodeLog: string;

/** The tools the shims ran since the last call (from DICOM_PIPES_NODE's log). */
async function shimmed(): Promise<string[]> {
  const text = await readFile(nodeLog, "utf8").catch(() => "");
  await writeFile(nodeLog, "");
  return [
    ...new Set(
      text
        .split("\n")
        .filter(Boolean)
        .map((p) => basename(p, ".js")),
    ),
  ].sort();
}

/**
 * Run a legacy script with DCMTK's tools, or with the shims first on PATH
 * (their node is a wrapper that logs which tool each shim ran).
 */
function script(name: string, args: string[], shims: boolean): Promise<Run> {
  const PATH = shims ? `${shimsDir()}:${process.env.PATH}` : process.env.PATH!;
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      PATH,
      TCP_NODELAY: "1",
      DICOM_PIPES_NODE: nodeLogger,
      NODE_LOG: nodeLog,
    };
    const child = spawn("bash", [join(SCRIPTS, name), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("latin1")));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("latin1")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Relative path → dataset bytes (after the file meta) of every file under dir. */
async function tree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const f of await filesUnder(dir, { hidden: true })) out.set(f, datasetBytes(join(dir, f)));
  return out;
}

function assertSameTree(ours: Map<string, Buffer>, theirs: Map<string, Buffer>): void {
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
  for (const [k, v] of theirs) assert.ok(ours.get(k)!.equals(v), `${k}: datasets differ`);
}

describe("legacy DCMTK scripts, unchanged, on dcmtk-shims", { skip }, () => {
  let work: string;
  let archive: string;
  let qr: DcmqrscpPeer;
  let movePort: number;
  const patient = "DP000002";

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "legacy-"));
    archive = join(work, "archive");
    nodeLogger = join(work, "node-logger.sh");
    nodeLog = join(work, "node.log");
    await writeFile(
      nodeLogger,
      `#!/bin/sh\necho "$1" >> "$NODE_LOG"\nexec "${process.execPath}" "$@"\n`,
      { mode: 0o755 },
    );
    await generateArchive({
      out: archive,
      patients: 3,
      seed: "legacy",
      studiesPerPatient: [2, 3],
      seriesPerStudy: [1, 3],
      instancesPerSeries: [1, 3],
    });
    movePort = await freePort();
    qr = await startDcmqrscp({
      files: [archive],
      hostTable: [{ name: "mover", aet: "MOVESCU", port: movePort }],
    });
  });
  after(async () => {
    await qr?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("pull-patient.sh: echoscu guard, findscu dump parsed with grep/sed, movescu +P per study", async () => {
    const args = (out: string) => [
      qr.aet,
      "127.0.0.1",
      String(qr.port),
      String(movePort),
      out,
      patient,
    ];
    const theirs = await script("pull-patient.sh", args(join(work, "pull-dcmtk")), false);
    const ours = await script("pull-patient.sh", args(join(work, "pull-shims")), true);
    assert.equal(theirs.code, 0, theirs.stderr + theirs.stdout);
    assert.match(theirs.stdout, /^pulled [2-9] studies of DP000002$/m);
    assert.equal(ours.code, theirs.code, ours.stderr);
    assert.deepEqual(await shimmed(), ["echoscu-ts", "findscu-ts", "movescu-ts"]);
    assert.equal(ours.stdout, theirs.stdout);
    assertSameTree(await tree(join(work, "pull-shims")), await tree(join(work, "pull-dcmtk")));
  });

  test("pull-patient.sh: an unreachable PACS stops at the echoscu guard in both", async () => {
    const port = String(await freePort());
    const theirs = await script(
      "pull-patient.sh",
      [qr.aet, "127.0.0.1", port, String(movePort), join(work, "x"), patient],
      false,
    );
    const ours = await script(
      "pull-patient.sh",
      [qr.aet, "127.0.0.1", port, String(movePort), join(work, "x"), patient],
      true,
    );
    assert.equal(theirs.code, 1);
    assert.equal(ours.code, 1);
    assert.deepEqual(await shimmed(), ["echoscu-ts"]);
    assert.equal(ours.stdout, theirs.stdout);
  });

  test("push-folder.sh: storescu +sd +r of a folder into DCMTK storescp", async () => {
    const runs: Record<string, { run: Run; files: Map<string, Buffer> }> = {};
    for (const shims of [false, true]) {
      const scp = await startStorescp({});
      try {
        const run = await script(
          "push-folder.sh",
          [scp.aet, "127.0.0.1", String(scp.port), join(archive, patient)],
          shims,
        );
        runs[String(shims)] = { run, files: await tree(scp.dir) };
      } finally {
        await scp.stop();
      }
    }
    const theirs = runs.false!;
    const ours = runs.true!;
    assert.equal(theirs.run.code, 0, theirs.run.stderr);
    assert.equal(ours.run.code, 0, ours.run.stderr);
    assert.deepEqual(await shimmed(), ["echoscu-ts", "storescu-ts"]);
    assert.equal(ours.run.stdout, theirs.run.stdout);
    assert.ok(theirs.files.size > 0);
    assertSameTree(ours.files, theirs.files);
  });

  test("get-series.sh: findscu -X responses read with dcmdump, getscu per series", async () => {
    const study = (await readdir(join(archive, patient))).sort()[0]!;
    const theirs = await script(
      "get-series.sh",
      [qr.aet, "127.0.0.1", String(qr.port), join(work, "get-dcmtk"), study],
      false,
    );
    const ours = await script(
      "get-series.sh",
      [qr.aet, "127.0.0.1", String(qr.port), join(work, "get-shims"), study],
      true,
    );
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.match(theirs.stdout, /^[A-Z]{2} [0-9.]+ \d+$/m);
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(await shimmed(), ["findscu-ts", "getscu-ts"]);
    assert.equal(ours.stdout, theirs.stdout);
    assertSameTree(await tree(join(work, "get-shims")), await tree(join(work, "get-dcmtk")));
  });
});

test("the committed table of DCMTK options equals the installed DCMTK's --help", {
  skip,
}, async () => {
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "tools/dcmtk-tables/generate-options.mjs"), "--check"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b));
    child.on("close", (code) => resolve({ code, err }));
  });
  assert.equal(r.code, 0, r.err);
});
