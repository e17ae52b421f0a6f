#!/usr/bin/env node
// npm run bench [-- name...]: runs tools/bench/<name>.bench.ts (all by default),
// each a script that prints its figures side by side. Not a test: nothing asserts.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .sort();
const wanted = process.argv.slice(2);
const chosen = wanted.length ? all.filter((f) => wanted.some((w) => f.startsWith(w))) : all;
if (chosen.length === 0) {
  console.error(
    `no benchmark matches ${wanted.join(" ")}; available: ${all.map((f) => f.replace(".bench.ts", "")).join(", ")}`,
  );
  process.exit(2);
}
let failed = 0;
for (const f of chosen) {
  console.log(`\n### ${f.replace(".bench.ts", "")}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, f)], {
    stdio: "inherit",
    cwd: join(here, "../.."),
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
