#!/usr/bin/env node
// Runs the node:test suites through tsx. Usage: node test/run.mjs unit|interop|all [filter]
import { readdirSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const kind = process.argv[2] ?? "unit";
const filter = process.argv[3];

function testsIn(dir) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join(dir, f));
}

function workspaceTests() {
  const out = [];
  for (const base of ["packages", "tools"]) {
    for (const name of readdirSync(join(root, base))) {
      if (statSync(join(root, base, name)).isDirectory())
        out.push(...testsIn(join(base, name, "test")));
    }
  }
  return out;
}

let files = [];
if (kind === "unit" || kind === "all") files.push(...workspaceTests(), ...testsIn("test"));
if (kind === "interop" || kind === "all")
  files.push(...testsIn("test/interop"), ...testsIn("test/support"));
if (filter) files = files.filter((f) => f.includes(filter));
if (files.length === 0) {
  console.error(`no test files for "${kind}"`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  {
    cwd: root,
    stdio: "inherit",
  },
);
process.exit(r.status ?? 1);
