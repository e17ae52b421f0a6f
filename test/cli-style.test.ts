/**
 * One help style and one version line for every bin (spawned): DCMTK-style
 * and yargs tools alike print `tool: title`, `usage:`, option groups,
 * examples each on its own line (a `# note` line above, never a second
 * column), the exit statuses; and `--version` is
 * `tool X.Y.Z (dicom-pipes; DICOM dictionary: dcmjs X.Y.Z[; more sources])`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, runBin } from "@dicom-pipes/test-support/bins";

const BINS = readdirSync(join(ROOT, "packages")).flatMap((dir) => {
  const file = join(ROOT, "packages", dir, "package.json");
  if (!existsSync(file)) return [];
  const pkg = JSON.parse(readFileSync(file, "utf8")) as {
    version: string;
    bin?: Record<string, string>;
  };
  return Object.keys(pkg.bin ?? {}).map((name) => ({ name, version: pkg.version }));
});

/** The dcmjs the dictionary was copied from, as installed. */
const dcmjsVersion = (() => {
  const require = createRequire(join(ROOT, "packages", "dimse", "package.json"));
  let dir = require.resolve("dcmjs");
  while (!existsSync(join(dir, "package.json"))) dir = join(dir, "..");
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string })
    .version;
})();

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("every bin's --version: tool, version, dicom-pipes, the dictionary's source", async () => {
  assert.ok(BINS.length >= 12);
  for (const { name, version } of BINS) {
    const r = await runBin(name, ["--version"]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const extra = name === "dcmanon" ? "; PS3\\.15 \\d{4}[a-e] Table E\\.1-1" : "";
    assert.match(
      r.stdout,
      new RegExp(
        `^${reEscape(name)} ${reEscape(version)} \\(dicom-pipes; DICOM dictionary: dcmjs ${reEscape(dcmjsVersion)}${extra}\\)\\n$`,
      ),
    );
  }
});

/** The lines of a help's `examples:` block. */
function examples(help: string): string[] {
  const lines = help.split("\n");
  const start = lines.indexOf("examples:");
  if (start < 0) return [];
  const end = lines.indexOf("", start);
  return lines.slice(start + 1, end);
}

test("every bin's --help (and dcmdir's commands'): one layout, examples on their own lines", async () => {
  const calls = [
    ...BINS.map(({ name }) => [name, "--help"]),
    ...["create", "add", "list", "index", "query"].map((c) => ["dcmdir", c, "--help"]),
  ];
  for (const [name, ...args] of calls) {
    const r = await runBin(name!, args);
    const what = [name, ...args].join(" ");
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    const tool = [name, ...args.slice(0, -1)].join(" ");
    assert.ok(r.stdout.startsWith(`${tool}: `), what);
    assert.match(r.stdout, /^usage: /m, what);
    assert.match(r.stdout, /^general options:\n/m, what);
    assert.match(r.stdout, /^ {2}-h {5}--help {17}print this help text and exit$/m, what);
    assert.match(r.stdout, /^Exit status:\n {2}0 {4}success/m, what);
    assert.doesNotMatch(r.stdout, /^(Options|Examples|General):/m, what);
    const ex = examples(r.stdout);
    if (name !== "dcmtk-shims" && name !== "dcmdir") assert.ok(ex.length > 0, what);
    ex.forEach((line, i) => {
      // A command continued with a backslash goes on indented.
      if (!ex[i - 1]?.endsWith("\\")) assert.match(line, /^ {2}\S/, `${what}: ${line}`);
      // A note is a comment line; a command line has no second column after it.
      if (!line.startsWith("  # ")) assert.doesNotMatch(line.trim(), / {3,}\S/, `${what}: ${line}`);
    });
    for (const line of r.stdout.split("\n"))
      if (!ex.includes(line)) assert.ok(line.length <= 100, `${what}: ${line}`);
  }
});
