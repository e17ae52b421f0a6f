// The stderr logger beside the progress line, the per-tool exit table, and
// output folders (src/cli/logger.ts, progress.ts, exit.ts, io/dirs.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, exitTable, Progress } from "../src/cli/index.js";
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
  assert.equal(err.text(), "\r\x1b[K1/3 a.dcm" + "\r\x1b[K" + "E: tool: a.dcm: refused\n" + "\r\x1b[K2/3 b.dcm");
  // no progress shown: nothing extra
  const plain = terminal();
  const l2 = createLogger("tool", plain);
  l2.warn("w");
  l2.flush();
  assert.equal(plain.text(), "W: tool: w\n");
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
