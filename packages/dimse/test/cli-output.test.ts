// The stderr logger beside the progress line, the per-tool exit table, and
// output folders (src/cli/logger.ts, progress.ts, exit.ts, io/dirs.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  createLogger,
  exitTable,
  formatDuration,
  Progress,
  progressLine,
  summaryLine,
} from "../src/cli/index.js";
import { makeDirs, makeDirsSync, unwritableReason } from "../src/io/index.js";

/** A terminal-like stream that keeps what is written. */
function terminal(): Writable & { isTTY: boolean; columns: number; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; text: () => string };
  w.isTTY = true;
  w.columns = 80;
  w.text = () => chunks.join("");
  return w;
}

test("a log line clears the progress line first; the next update draws it again at once", () => {
  const err = terminal();
  const progress = new Progress({ stream: err, enabled: true });
  const log = createLogger("tool", err);
  progress.update("1/3 a.dcm");
  log.error("a.dcm: refused");
  log.flush();
  progress.update("2/3 b.dcm");
  assert.equal(
    err.text(),
    "\r\x1b[K1/3 a.dcm" + "\r\x1b[K" + "E: tool: a.dcm: refused\n" + "\r\x1b[K2/3 b.dcm",
  );
  // no progress shown: nothing extra
  const plain = terminal();
  const l2 = createLogger("tool", plain);
  l2.warn("w");
  l2.flush();
  assert.equal(plain.text(), "W: tool: w\n");
});

test("progressLine: percent, rate and ETA from the average since the start; skipped items are not work", () => {
  const MB = 1024 * 1024;
  // 10 of 40 in 20 s: 30 left at 2 s each = 60 s.
  assert.equal(
    progressLine(
      { done: 10, total: 40, unit: "requests", bytes: 40 * MB, extra: ["340 objects"], failed: 2 },
      20000,
    ),
    "10/40 requests (25%), 340 objects, 40.0 MB, 2.0 MB/s, ETA 1m00s, 2 failed",
  );
  // 5 of the 10 came from a journal: 5 in 20 s, 4 s each, 30 left = 2 min.
  assert.equal(
    progressLine({ done: 10, total: 40, unit: "requests", skipped: 5 }, 20000),
    "10/40 requests (25%), ETA 2m00s",
  );
  // Nothing done yet: no ETA; percent rounds down (never 100% early).
  assert.equal(progressLine({ done: 0, total: 3, unit: "files" }, 5000), "0/3 files (0%)");
  assert.equal(
    progressLine({ done: 1999, total: 2000, unit: "files" }, 1999000),
    "1999/2000 files (99%), ETA 1s",
  );
  assert.equal(progressLine({ done: 3, total: 3, unit: "files" }, 5000), "3/3 files (100%)");
  // Without a total: the item rate instead of an ETA.
  assert.equal(
    progressLine({ done: 12, unit: "files", bytes: 1536 }, 4000),
    "12 files, 1.5 KB, 384 B/s, 3.0 files/s",
  );
  // A total the run went past (input grew) is not shown as over 100%.
  assert.equal(progressLine({ done: 5, total: 4, unit: "files" }, 1000), "5 files, 5.0 files/s");
});

test("summaryLine and formatDuration", () => {
  const MB = 1024 * 1024;
  assert.equal(
    summaryLine(
      { done: 40, total: 40, unit: "requests", bytes: 120 * MB, extra: ["340 objects"], failed: 2 },
      192000,
    ),
    "40 requests in 3m12s, 340 objects, 120.0 MB, 640.0 KB/s, 2 failed",
  );
  assert.equal(
    summaryLine({ done: 12, total: 40, unit: "requests" }, 9400),
    "12/40 requests in 9s",
  );
  assert.deepEqual(
    [0, 0.4, 59.6, 60, 185, 3599, 3600, 7380, 86399, 90000 * 3].map(formatDuration),
    ["0s", "0s", "1m00s", "1m00s", "3m05s", "59m59s", "1h00m", "2h03m", "23h59m", "3d03h"],
  );
});

test("Progress.finish: the summary replaces the line on a terminal; elsewhere only at -v; never at -q", () => {
  const counts = { done: 2, total: 2, unit: "files" };
  const err = terminal();
  const tty = new Progress({ stream: err, enabled: true });
  tty.update("1/2 files (50%)");
  tty.finish(createLogger("tool", err), counts);
  assert.match(err.text(), /^\r\x1b\[K1\/2 files \(50%\)\r\x1b\[KI: tool: 2 files in 0s\n$/);
  const pipe = terminal();
  new Progress({ stream: pipe, enabled: false }).finish(createLogger("tool", pipe), counts);
  assert.equal(pipe.text(), "");
  const verbose = terminal();
  new Progress({ stream: verbose, enabled: false }).finish(
    createLogger("tool", verbose, "info"),
    counts,
  );
  assert.equal(verbose.text(), "I: tool: 2 files in 0s\n");
  const quiet = terminal();
  new Progress({ stream: quiet, enabled: false }).finish(
    createLogger("tool", quiet, "error"),
    counts,
  );
  assert.equal(quiet.text(), "");
});

test("a terminal without a size (0 columns) is taken as 80 wide, not cut to nothing", () => {
  const err = terminal();
  err.columns = 0;
  new Progress({ stream: err, enabled: true }).update("1/2 files (50%), ETA 5s");
  assert.equal(err.text(), "\r\x1b[K1/2 files (50%), ETA 5s");
});

test("exitTable lists the given statuses in order, with the signals last", () => {
  assert.equal(
    exitTable([2, 0, 45]),
    "Exit status:\n  0    success (zero matches included)\n  2    usage error or invalid input\n  45   output directory missing or not writable\n  130  interrupted (SIGINT), 143 terminated (SIGTERM)",
  );
  assert.throws(() => exitTable([7]), /exit status 7 has no description/);
});

test("makeDirs: creates parents, accepts an existing folder, fails on a file and (Linux) under /proc instead of spinning", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dirs-"));
  try {
    await makeDirs(join(dir, "a/b/c"));
    makeDirsSync(join(dir, "a/b/d"));
    assert.ok(existsSync(join(dir, "a/b/c")) && existsSync(join(dir, "a/b/d")));
    await makeDirs(join(dir, "a/b/c"));
    writeFileSync(join(dir, "f"), "");
    await assert.rejects(makeDirs(join(dir, "f")), { code: "ENOTDIR" });
    await assert.rejects(makeDirs(join(dir, "f/x")), { code: "ENOTDIR" });
    assert.equal(unwritableReason(join(dir, "a")), undefined);
    assert.equal(unwritableReason(join(dir, "nope")), "does not exist");
    assert.equal(unwritableReason(join(dir, "f")), "is not a directory");
    assert.equal(unwritableReason(join(dir, "f/x")), "is inside a file, not a directory");
    if (process.platform === "linux" && existsSync("/proc/1")) {
      await assert.rejects(makeDirs("/proc/1/x/y"), { code: "ENOENT" });
      assert.throws(() => makeDirsSync("/proc/1/x/y"), { code: "ENOENT" });
      assert.match(unwritableReason("/proc/1") ?? "", /^is not writable/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
