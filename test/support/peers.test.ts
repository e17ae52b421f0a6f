import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import {
  freePort,
  hasDcmtk,
  hasOrthanc,
  runDcmtk,
  startDcmqrscp,
  startOrthanc,
  startStorescp,
  type StorescpPeer,
} from "./peers.js";

const NO_DCMTK = hasDcmtk()
  ? false
  : "DCMTK tools (dcmqrscp, storescp, storescu, echoscu, findscu, movescu, dump2dcm, dcmdump) not installed";
const NO_ORTHANC = NO_DCMTK || (hasOrthanc() ? false : "Orthanc not installed (/usr/sbin/Orthanc)");

/** A fresh UID under the UUID-derived root 2.25. */
function uid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll("-", "")}`).toString()}`;
}

interface Sample {
  dir: string;
  files: string[];
  studyUid: string;
  sopUids: string[];
}

/** Two CT instances of one study written with dump2dcm +te (file meta included by default). */
async function makeSample(): Promise<Sample> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "dicom-pipes-sample-"));
  const studyUid = uid();
  const seriesUid = uid();
  const files: string[] = [];
  const sopUids: string[] = [];
  for (let i = 1; i <= 2; i++) {
    const sop = uid();
    sopUids.push(sop);
    const dump = [
      "(0008,0016) UI =CTImageStorage",
      `(0008,0018) UI [${sop}]`,
      "(0008,0020) DA [20240102]",
      "(0008,0060) CS [CT]",
      "(0010,0010) PN [Test^Peers]",
      "(0010,0020) LO [PEERS-1]",
      `(0020,000d) UI [${studyUid}]`,
      `(0020,000e) UI [${seriesUid}]`,
      "(0020,0011) IS [1]",
      `(0020,0013) IS [${i}]`,
      "",
    ].join("\n");
    const txt = path.join(dir, `ct${i}.txt`);
    const dcm = path.join(dir, "dcm", `ct${i}.dcm`);
    await writeFile(txt, dump);
    await mkdir(path.dirname(dcm), { recursive: true });
    const r = await runDcmtk("dump2dcm", ["+te", txt, dcm]);
    assert.equal(r.code, 0, `dump2dcm failed: ${r.stderr}`);
    files.push(dcm);
  }
  return { dir, files, studyUid, sopUids };
}

/** Processes whose command line mentions `needle` (other than ps itself). */
function processesMentioning(needle: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,stat=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => l.includes(needle) && !/\bZ/.test(l.trim().split(/\s+/)[1] ?? ""));
}

async function findStudy(aet: string, port: number, studyUid: string): Promise<string> {
  const r = await runDcmtk(
    "findscu",
    [
      "-S",
      "-aec",
      aet,
      "127.0.0.1",
      String(port),
      "-k",
      "QueryRetrieveLevel=STUDY",
      "-k",
      `StudyInstanceUID=${studyUid}`,
    ],
    { timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, `findscu failed: ${r.stderr}`);
  return r.stderr;
}

async function moveStudy(aet: string, port: number, dest: string, studyUid: string): Promise<void> {
  const r = await runDcmtk(
    "movescu",
    [
      "-S",
      "-aec",
      aet,
      "-aem",
      dest,
      "127.0.0.1",
      String(port),
      "-k",
      "QueryRetrieveLevel=STUDY",
      "-k",
      `StudyInstanceUID=${studyUid}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, `movescu failed: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Failed|Error/i, r.stderr);
}

async function assertDelivered(scp: StorescpPeer, sample: Sample): Promise<void> {
  const names = (await readdir(scp.dir)).sort();
  assert.deepEqual(names, sample.sopUids.map((u) => `CT.${u}`).sort(), `files in ${scp.dir}`);
  for (const sop of sample.sopUids) {
    const r = await runDcmtk("dcmdump", ["+P", "SOPInstanceUID", path.join(scp.dir, `CT.${sop}`)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(sop.replaceAll(".", "\\.")));
  }
}

let sample: Sample;
before(async () => {
  if (!NO_DCMTK) sample = await makeSample();
});
after(async () => {
  if (sample) await rm(sample.dir, { recursive: true, force: true });
});

test("freePort returns distinct usable ports", async () => {
  const a = await freePort();
  const b = await freePort();
  assert.ok(a > 0 && a < 65536 && b > 0);
});

describe("storescp", { skip: NO_DCMTK }, () => {
  test("starts, receives, stops without leftovers", async () => {
    const t0 = performance.now();
    const scp = await startStorescp({ aet: "SINK", args: ["+xa"] });
    const started = performance.now() - t0;
    try {
      const r = await runDcmtk("storescu", [
        "-aec",
        "SINK",
        scp.host,
        String(scp.port),
        ...sample.files,
      ]);
      assert.equal(r.code, 0, r.stderr);
      await assertDelivered(scp, sample);
    } finally {
      await scp.stop();
    }
    assert.deepEqual(processesMentioning(scp.dir), []);
    assert.equal(existsSync(scp.dir), false);
    console.log(`# storescp ready in ${started.toFixed(0)} ms`);
  });
});

describe("dcmqrscp", { skip: NO_DCMTK }, () => {
  test("C-FIND and C-MOVE into a storescp destination", async () => {
    const scp = await startStorescp({ aet: "DEST" });
    const t0 = performance.now();
    const qr = await startDcmqrscp({
      aet: "ARCHIVE",
      hostTable: [{ name: "dest", aet: "DEST", port: scp.port }],
    });
    const started = performance.now() - t0;
    try {
      await qr.load([path.join(sample.dir, "dcm")]);
      const stderr = await findStudy(qr.aet, qr.port, sample.studyUid);
      assert.ok(stderr.includes(sample.studyUid), stderr);
      await moveStudy(qr.aet, qr.port, "DEST", sample.studyUid);
      await assertDelivered(scp, sample);
    } finally {
      await qr.stop();
      await scp.stop();
    }
    assert.deepEqual(processesMentioning(qr.dir), []);
    assert.equal(existsSync(qr.dir), false);
    console.log(`# dcmqrscp ready in ${started.toFixed(0)} ms`);
  });

  test("files option loads at start; unknown move destination fails", async () => {
    const qr = await startDcmqrscp({ files: sample.files, maxPdu: 65536 });
    try {
      assert.equal(qr.aet, "QRSCP");
      assert.ok((await findStudy("QRSCP", qr.port, sample.studyUid)).includes(sample.studyUid));
      const r = await runDcmtk(
        "movescu",
        [
          "-S",
          "-aec",
          "QRSCP",
          "-aem",
          "NOWHERE",
          "127.0.0.1",
          String(qr.port),
          "-k",
          "QueryRetrieveLevel=STUDY",
          "-k",
          `StudyInstanceUID=${sample.studyUid}`,
        ],
        { timeoutMs: 30_000 },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /MoveDestinationUnknown/);
    } finally {
      await qr.stop();
    }
  });
});

describe("orthanc", { skip: NO_ORTHANC }, () => {
  test("C-FIND and C-MOVE into a storescp destination; REST helper", async () => {
    const scp = await startStorescp({ aet: "DEST" });
    const t0 = performance.now();
    const orthanc = await startOrthanc({ modalities: { dest: { aet: "DEST", port: scp.port } } });
    const started = performance.now() - t0;
    try {
      assert.equal(orthanc.aet, "ORTHANC");
      await orthanc.load([path.join(sample.dir, "dcm")]);
      const stats = await orthanc.rest("/statistics");
      assert.equal(stats.CountInstances, 2);
      const stderr = await findStudy(orthanc.aet, orthanc.port, sample.studyUid);
      assert.ok(stderr.includes(sample.studyUid), stderr);
      await moveStudy(orthanc.aet, orthanc.port, "DEST", sample.studyUid);
      await assertDelivered(scp, sample);
      await assert.rejects(orthanc.rest("/no-such-route"), /HTTP 404/);
    } finally {
      await orthanc.stop();
      await scp.stop();
    }
    assert.deepEqual(processesMentioning(orthanc.dir), []);
    assert.equal(existsSync(orthanc.dir), false);
    console.log(`# Orthanc ready in ${started.toFixed(0)} ms`);
  });

  test("files option uploads at start", async () => {
    const orthanc = await startOrthanc({ aet: "PACS", files: sample.files });
    try {
      const ids: string[] = await orthanc.rest("/instances");
      assert.equal(ids.length, 2);
      const r = await runDcmtk("echoscu", ["-aec", "PACS", "127.0.0.1", String(orthanc.port)]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await orthanc.stop();
    }
  });
});
