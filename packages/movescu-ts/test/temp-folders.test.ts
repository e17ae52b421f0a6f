/**
 * The temporary folders under -od/.movescu-ts.tmp: a run removes those of
 * runs that were killed, and keeps those of runs still going. A folder is
 * named by PID and process start time, so a PID reused by an unrelated
 * process no longer keeps a killed run's folder forever.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { runBin, startBin, until } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";
import { startTicks as runStart } from "@dicom-pipes/dimse/app";

let dir: string;
let pacs: DevPacs;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-temps-"));
  await mkdir(join(dir, "archive"));
  pacs = await startDevPacs({ dir: join(dir, "archive") });
});
after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The start time of a process (it runs). */
const startTicks = (pid: number): string => runStart(pid)!;

test("stale folders (a PID now used by another process, or not running) are removed; a running one is kept", {
  skip: process.platform !== "linux" && "needs /proc",
}, async () => {
  const od = join(dir, "od");
  const root = join(od, ".movescu-ts.tmp");
  // This test process stands for "a PID in use": once with its real start time (a run still going),
  // once with another (a killed run whose PID was reused).
  const alive = `${process.pid}-${startTicks(process.pid)}`;
  const reused = `${process.pid}-${Number(startTicks(process.pid)) + 12345}`;
  // A bare-PID folder of an earlier version whose PID is now this (non-movescu-ts) process.
  const legacy = String(process.pid);
  for (const name of [alive, reused, legacy, "4194303-1"]) {
    await mkdir(join(root, name), { recursive: true });
    await writeFile(join(root, name, "x.part"), "partial");
  }
  const r = await runBin(
    "movescu-ts",
    [
      "-S",
      "-aec",
      "DEVPACS",
      "+P",
      String(await freePort()),
      "-od",
      od,
      "-k",
      "QueryRetrieveLevel=STUDY",
      "-k",
      "StudyInstanceUID=1.2.3",
      "127.0.0.1",
      String(pacs.port),
    ],
    { timeoutMs: 30_000 },
  );
  assert.ok([0, 69].includes(r.code ?? -1), r.stderr);
  assert.deepEqual(await readdir(root), [alive]);
});

test("a bare-PID folder (earlier versions) is kept while that PID is a movescu-ts", {
  skip: process.platform !== "linux" && "needs /proc",
}, async () => {
  const od = join(dir, "od-legacy");
  const root = join(od, ".movescu-ts.tmp");
  // A movescu-ts waiting for its time window (it never connects) stands for a run still going.
  const m = new Date().getUTCHours() * 60 + new Date().getUTCMinutes();
  const hhmm = (x: number) =>
    `${String(Math.floor((x % 1440) / 60)).padStart(2, "0")}:${String(x % 60).padStart(2, "0")}`;
  const waiting = startBin("movescu-ts", [
    "-v",
    "-S",
    "-aec",
    "DEVPACS",
    "--window",
    `${hhmm(m + 120)}-${hhmm(m + 180)}`,
    "--tz",
    "UTC",
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID=1.2.3",
    "127.0.0.1",
    String(pacs.port),
  ]);
  try {
    assert.ok(
      await until(
        () => /outside the time window/.test(waiting.err()) || waiting.child.exitCode !== null,
      ),
      waiting.err(),
    );
    const legacy = String(waiting.child.pid);
    await mkdir(join(root, legacy), { recursive: true });
    const r = await runBin(
      "movescu-ts",
      [
        "-S",
        "-aec",
        "DEVPACS",
        "+P",
        String(await freePort()),
        "-od",
        od,
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID=1.2.3",
        "127.0.0.1",
        String(pacs.port),
      ],
      { timeoutMs: 30_000 },
    );
    assert.ok([0, 69].includes(r.code ?? -1), r.stderr);
    assert.deepEqual(await readdir(root), [legacy]);
  } finally {
    waiting.child.kill("SIGINT");
    await waiting.done;
  }
});
