/** dcmtk-shims as a command, and its commands on PATH. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { accessSync, constants, readdirSync } from "node:fs";
import { join } from "node:path";
import { runBin, runShell } from "@dicom-pipes/test-support/bins";
import { SHIMS } from "../src/main.js";

test("prints the folder of the six DCMTK-named commands, each executable", async () => {
  const r = await runBin("dcmtk-shims", []);
  assert.equal(r.code, 0, r.stderr);
  const dir = r.stdout.trim();
  assert.deepEqual(readdirSync(dir).sort(), Object.keys(SHIMS).sort());
  for (const name of Object.keys(SHIMS)) accessSync(join(dir, name), constants.X_OK);
});

test("--help, --version, and usage errors", async () => {
  let r = await runBin("dcmtk-shims", ["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /export PATH="\$\(npx --no-install dcmtk-shims\):\$PATH"/);
  r = await runBin("dcmtk-shims", ["--version"]);
  assert.match(
    r.stdout,
    /^dcmtk-shims \d+\.\d+\.\d+ \(dicom-pipes; DICOM dictionary: dcmjs [\d.]+\)\n$/,
  );
  r = await runBin("dcmtk-shims", ["--nope"]);
  assert.equal(r.code, 2);
  r = await runBin("dcmtk-shims", ["extra"]);
  assert.equal(r.code, 2);
});

test("on PATH, each DCMTK name runs its tool: help without arguments, the tool's version, records off", async () => {
  for (const [name, tool] of Object.entries(SHIMS)) {
    const r = await runShell(
      `PATH="$(${JSON.stringify(process.execPath)} bin/dcmtk-shims.js):$PATH"; ${name} --version && ${name} | head -1`,
      { cwd: join(import.meta.dirname, "..") },
    );
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const [version, helpLine] = r.stdout.split("\n");
    assert.match(version!, new RegExp(`^${tool} \\d+\\.\\d+\\.\\d+ \\(dicom-pipes; `), name);
    assert.match(helpLine!, new RegExp(`^${tool}: `), name);
  }
  // --no-output: a refused association writes no record on stdout (echoscu-ts would write one).
  const r = await runShell(
    `PATH="$(${JSON.stringify(process.execPath)} bin/dcmtk-shims.js):$PATH"; echoscu 127.0.0.1 1`,
    { cwd: join(import.meta.dirname, "..") },
  );
  assert.equal(r.code, 61);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Association Request Failed/);
});
