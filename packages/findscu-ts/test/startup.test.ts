/**
 * What a query run of the bundled findscu-ts does before and besides the
 * query: nothing a query does not need (no process.stdin when stdin is not
 * read, no package resolution for the dictionary). Spawns the real bin.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binPath, ndjson } from "@dicom-pipes/test-support/bins";
import { answeringWith } from "./scripted.js";

/** Runs the bin under a probe that reports Node's modules loaded and the ids resolved through require. */
const PROBE = [
  "const before = new Set(process.moduleLoadList);",
  "const Module = require('node:module');",
  "const resolved = [];",
  "const resolve = Module._resolveFilename;",
  "Module._resolveFilename = function (id, ...rest) { resolved.push(id); return resolve.call(this, id, ...rest); };",
  "require(process.argv[1]);",
  "process.on('exit', () => process.stderr.write('\\n' + JSON.stringify({ resolved, loaded: process.moduleLoadList.filter((m) => !before.has(m)) })));",
].join("\n");

function probe(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", PROBE, "--", binPath("findscu-ts"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("latin1").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("a query with -k keys makes no process.stdin and finds the dictionary without resolving a package", async () => {
  const scp = await answeringWith("1.1", "1.2");
  try {
    const keys = "-k QueryRetrieveLevel=STUDY -k StudyInstanceUID -k PatientName".split(" ");
    const r = await probe(["-S", "-aec", "SCP", ...keys, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      ndjson(r.stdout).map((x) => x.StudyInstanceUID),
      ["1.1", "1.2"],
    );
    const { resolved, loaded } = JSON.parse(
      r.stderr.slice(r.stderr.lastIndexOf('\n{"resolved')),
    ) as {
      resolved: string[];
      loaded: string[];
    };
    // stdin is /dev/null: making process.stdin would load fs.ReadStream.
    assert.ok(!loaded.includes("NativeModule internal/fs/streams"), "process.stdin was made");
    assert.deepEqual(
      resolved.filter((id) => id.startsWith("@dicom-pipes/")),
      [],
      "a package was resolved at run time",
    );
  } finally {
    await scp.close();
  }
});

test("the response dump goes to a stderr that is a file (only /dev/null is spared it)", async () => {
  const scp = await answeringWith("1.1");
  const dir = mkdtempSync(join(tmpdir(), "findscu-dump-"));
  try {
    const keys = "-k QueryRetrieveLevel=STUDY -k StudyInstanceUID".split(" ");
    const args = [
      binPath("findscu-ts"),
      "-S",
      "-aec",
      "SCP",
      ...keys,
      "127.0.0.1",
      String(scp.port),
    ];
    for (const target of [join(dir, "stderr.txt"), "/dev/null"]) {
      const fd = openSync(target, "w");
      // spawnSync blocks this event loop, where the scripted SCP runs: spawn and wait.
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", fd] });
      closeSync(fd);
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
      const code = await new Promise((r) => child.on("close", r));
      assert.equal(code, 0, target);
      assert.deepEqual(
        ndjson(out).map((x) => x.StudyInstanceUID),
        ["1.1"],
        target,
      );
    }
    const dump = readFileSync(join(dir, "stderr.txt"), "latin1");
    assert.match(dump, /^I: Find Response: 1 \(Pending\)$/m);
    assert.match(dump, /^I: \(0020,000d\) UI \[1\.1\0\]/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await scp.close();
  }
});
