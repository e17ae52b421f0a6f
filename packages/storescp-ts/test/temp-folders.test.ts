/**
 * The temporary folders under -od/.storescp-ts.tmp: storescp-ts removes
 * those of runs that were killed (as movescu-ts does) and keeps those of
 * runs still going; its own goes when it stops.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBin, until } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";
import { startTicks as runStart } from "@dicom-pipes/dimse/app";
import { isListening } from "@dicom-pipes/test-support/corpus";

let dir: string | undefined;
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The start time of a process (it runs). */
const startTicks = (pid: number): string => runStart(pid)!;

test("a killed run's folder is removed at start, a running one's kept, its own removed at exit", {
  skip: process.platform !== "linux" && "needs /proc",
}, async () => {
  dir = await mkdtemp(join(tmpdir(), "storescp-temps-"));
  const root = join(dir, ".storescp-ts.tmp");
  // This test process stands for a run still going (its PID and start time);
  // the same PID with another start time, a PID not running, and a bare PID
  // that is not a storescp-ts are killed runs.
  const alive = `${process.pid}-${startTicks(process.pid)}`;
  const stale = [
    `${process.pid}-${Number(startTicks(process.pid)) + 12345}`,
    "4194303-1",
    String(process.pid),
  ];
  for (const name of [alive, ...stale]) {
    await mkdir(join(root, name), { recursive: true });
    await writeFile(join(root, name, "1.part"), "partial");
  }
  const port = await freePort();
  const scp = startBin("storescp-ts", ["-od", dir, String(port)]);
  try {
    assert.ok(await until(() => isListening(port), 10000, 25), scp.err());
    assert.deepEqual(
      (await readdir(root)).sort(),
      [alive, `${scp.child.pid}-${startTicks(scp.child.pid!)}`].sort(),
    );
  } finally {
    scp.child.kill("SIGTERM");
  }
  const exit = await scp.done;
  assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(await readdir(root), [alive]);
});
