// The bins run one esbuild bundle each (packages/dimse/scripts/bundle.mjs): they start from any
// folder and through a symlink, a stack trace from the bundle names the .ts sources, and the
// large or native dependencies are loaded only where used (never by a static import).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { ROOT } from "@dicom-pipes/test-support/bins";

const HEAVY = [
  "read-excel-file",
  "dcmjs-codecs",
  "@napi-rs/canvas",
  "better-sqlite3",
  "date-holidays",
  "dcmjs",
  "vega",
  "vega-lite",
  "csv-parse",
  "csv-stringify",
];

function bins(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const pkg of readdirSync(join(ROOT, "packages"))) {
    const dir = join(ROOT, "packages", pkg, "bin");
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith(".js")) out.push([pkg, join(dir, f)]);
  }
  return out;
}

test("every bin prints its help from another folder and through a symlink", () => {
  const dir = mkdtempSync(join(tmpdir(), "bundles-"));
  try {
    for (const [, bin] of bins()) {
      const link = join(dir, "tool.js");
      rmSync(link, { force: true });
      symlinkSync(bin, link);
      const r = spawnSync(process.execPath, [link, "--help"], { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 0, `${bin} --help: ${r.stderr}`);
      assert.match(r.stdout, /usage|Usage|Options/, bin);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no bundle imports a large or native dependency statically", () => {
  for (const [pkg] of bins()) {
    const text = readFileSync(join(ROOT, "packages", pkg, "dist", "main.bundle.cjs"), "utf8");
    // esbuild's CommonJS form of a static import: `import_x = require("x")` (or `__toESM(…)`),
    // at the top level or in the init function of a module loaded through import().
    const imported = [
      ...text.matchAll(/\bimport_\w+\s*=\s*(?:__toESM\()?require\("([^"]+)"\)/g),
    ].map((m) => m[1]!);
    assert.ok(imported.length > 0, `${pkg}'s bundle: no require() found, the pattern is stale`);
    // Non-ASCII source (a literal character in a regular expression) makes V8 hold the whole
    // bundle as a two-byte string: write \u escapes.
    const wide = /[^\x00-\x7f]/.exec(text);
    assert.equal(
      wide,
      null,
      `${pkg}'s bundle is not ASCII: ${text.slice((wide?.index ?? 0) - 40, (wide?.index ?? 0) + 10)}`,
    );
    // The launcher runs the bundle as a vm.Script, where import() needs an experimental flag.
    assert.doesNotMatch(text, /\bimport\(/, `${pkg}'s bundle calls import() itself`);
    for (const name of imported)
      assert.ok(
        !HEAVY.some((h) => name === h || name.startsWith(`${h}/`)),
        `${pkg}'s bundle imports ${name} at start-up`,
      );
    assert.ok(!/new Intl\.Segmenter/.test(text), `${pkg}'s bundle creates an Intl.Segmenter`);
  }
});

test("--help loads none of Node's slower modules, opens no stdin, makes no stdio stream, and the code cache is accepted", () => {
  // Node's modules a start-up loads beyond an empty script's; crypto, zlib, fs/promises… only
  // load on first use (bundle.mjs LAZY_BUILTINS), and V8 takes the code cache the build wrote.
  const probe = [
    "const before = new Set(process.moduleLoadList);",
    "const vm = require('node:vm');",
    // null, not undefined, when there is no cache: JSON keeps the key, and the assertion below says so.
    "let rejected = null;",
    "const Script = vm.Script;",
    "vm.Script = class extends Script { constructor(s, o) { super(s, o); if (o && o.cachedData) rejected = this.cachedDataRejected; } };",
    "require(process.argv[1]);",
    // Written with fs.writeSync: process.stderr would load Node's streams before the list is read.
    "process.on('exit', () => require('node:fs').writeSync(2, JSON.stringify({ rejected, loaded: process.moduleLoadList.filter((m) => !before.has(m)) })));",
  ].join("\n");
  for (const [pkg, bin] of bins()) {
    const r = spawnSync(process.execPath, ["-e", probe, "--", bin, "--help"], {
      encoding: "utf8",
      stdio: ["ignore", "ignore", "pipe"],
    });
    const { rejected, loaded } = JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{"rejected'))) as {
      rejected: boolean | null;
      loaded: string[];
    };
    assert.equal(rejected, false, `${pkg}: V8 rejected or found no dist/main.bundle.cjs.cache`);
    for (const m of [
      "crypto",
      "zlib",
      "fs/promises",
      "readline",
      "worker_threads",
      "child_process",
      "assert",
      "v8",
    ])
      assert.ok(!loaded.includes(`NativeModule ${m}`), `${pkg} --help loads node:${m}`);
    // stdin is /dev/null here: making process.stdin would load fs.ReadStream.
    assert.ok(!loaded.includes("NativeModule internal/fs/streams"), `${pkg} --help opens stdin`);
    // The help goes to file descriptor 1 and nothing is logged: no process.stdout (/dev/null
    // here: a SyncWriteStream) and no process.stderr (a pipe: a net.Socket).
    for (const m of ["internal/fs/sync_write_stream", "net"])
      assert.ok(!loaded.includes(`NativeModule ${m}`), `${pkg} --help makes a stdio stream (${m})`);
  }
});

/** Every package's lazy bundles (src/<name>.lazy.ts → dist/<name>.lazy.bundle.cjs). */
function lazyBundles(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const pkg of readdirSync(join(ROOT, "packages"))) {
    const src = join(ROOT, "packages", pkg, "src");
    if (!existsSync(src)) continue;
    for (const f of readdirSync(src))
      if (f.endsWith(".lazy.ts"))
        out.push([pkg, join(ROOT, "packages", pkg, "dist", f.replace(/\.ts$/, ".bundle.cjs"))]);
  }
  return out;
}

test("a lazy bundle is ASCII, leaves import() to the launcher, and V8 takes its code cache", () => {
  const lazy = lazyBundles();
  assert.ok(
    lazy.some(([pkg]) => pkg === "weekday-plot"),
    "weekday-plot's charts bundle",
  );
  const launcher = join(ROOT, "packages/dimse/scripts/launch.cjs");
  for (const [pkg, file] of lazy) {
    const text = readFileSync(file, "utf8");
    assert.equal(/[^\x00-\x7f]/.exec(text), null, `${file} is not ASCII`);
    assert.doesNotMatch(text, /\bimport\(/, `${file} calls import() itself`);
    const probe = [
      "const vm = require('node:vm');",
      "let rejected = null;",
      "const Script = vm.Script;",
      "vm.Script = class extends Script { constructor(s, o) { super(s, o); if (o && o.cachedData) rejected = this.cachedDataRejected; } };",
      `const b = require(${JSON.stringify(launcher)}).loadBundle(process.argv[1]);`,
      "console.log(JSON.stringify({ rejected, exports: Object.keys(b.exports) }));",
    ].join("\n");
    const r = spawnSync(process.execPath, ["-e", probe, "--", file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { rejected: boolean | null; exports: string[] };
    assert.equal(got.rejected, false, `${pkg}: V8 rejected or found no ${file}.cache`);
    assert.ok(
      got.exports.includes("warmUp"),
      `${file} exports warmUp (its cache is written after it)`,
    );
  }
  // The charts' libraries are in the lazy bundle, not in weekday-plot's main bundle.
  const main = readFileSync(join(ROOT, "packages/weekday-plot/dist/main.bundle.cjs"), "utf8");
  assert.match(main, /__imp_\("lazy-bundle:charts\.lazy"\)/);
  assert.doesNotMatch(main, /vega-lite|__imp_\("vega/);
});

test("a stack trace through a bundle names the TypeScript source, line and column", () => {
  const dir = mkdtempSync(join(tmpdir(), "bundles-"));
  try {
    // A module that throws on line 5, column 9, bundled the way the tools are.
    writeFileSync(
      join(dir, "thrower.ts"),
      [
        'import { mapBundleStacks } from "' +
          join(ROOT, "packages/dimse/src/cli/stack-map.ts") +
          '";',
        "mapBundleStacks(import.meta.url);",
        "export function boom(n: number): never {",
        '  const why: string = "boom " + n;',
        "  throw new Error(why);",
        "}",
        "try { boom(1); } catch (e) { console.log((e as Error).stack); }",
      ].join("\n"),
    );
    buildSync({
      entryPoints: [join(dir, "thrower.ts")],
      outfile: join(dir, "out.bundle.js"),
      bundle: true,
      platform: "node",
      format: "esm",
      sourcemap: "linked",
      sourcesContent: false,
      logLevel: "error",
    });
    const r = spawnSync(process.execPath, [join(dir, "out.bundle.js")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Error: boom 1\n/);
    assert.match(r.stdout, new RegExp(`at boom \\(${join(dir, "thrower.ts")}:5:9\\)`));
    assert.doesNotMatch(r.stdout, /out\.bundle\.js/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stack traces through two bundles (a lazy one loaded by the first) name each one's sources", () => {
  const dir = mkdtempSync(join(tmpdir(), "bundles-"));
  try {
    const stackMap = join(ROOT, "packages/dimse/src/cli/stack-map.ts");
    // b.ts throws on line 4, column 9; a.ts on line 6, column 9, after loading b's bundle.
    writeFileSync(
      join(dir, "b.ts"),
      [
        `import { mapBundleStacks } from ${JSON.stringify(stackMap)};`,
        "mapBundleStacks(import.meta.url);",
        "export function inB(): never {",
        '  throw new Error("from b");',
        "}",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "a.ts"),
      [
        `import { mapBundleStacks } from ${JSON.stringify(stackMap)};`,
        "mapBundleStacks(import.meta.url);",
        'const { inB } = await import("./b.bundle.js");',
        "try { inB(); } catch (e) { console.log((e as Error).stack); }",
        "function inA(): never {",
        '  throw new Error("from a");',
        "}",
        "try { inA(); } catch (e) { console.log((e as Error).stack); }",
      ].join("\n"),
    );
    for (const name of ["a", "b"])
      buildSync({
        entryPoints: [join(dir, `${name}.ts`)],
        outfile: join(dir, `${name}.bundle.js`),
        bundle: true,
        platform: "node",
        format: "esm",
        sourcemap: "linked",
        sourcesContent: false,
        external: ["./b.bundle.js"],
        logLevel: "error",
      });
    const r = spawnSync(process.execPath, [join(dir, "a.bundle.js")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`at inB \\(${join(dir, "b.ts")}:4:9\\)`));
    assert.match(r.stdout, new RegExp(`at inA \\(${join(dir, "a.ts")}:6:9\\)`));
    assert.doesNotMatch(r.stdout, /\.bundle\.js/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("yargs inside a bundle still finds its translations (LANG=de_DE)", () => {
  const bin = bins().find(([pkg]) => pkg === "inst-count")![1];
  const r = spawnSync(process.execPath, [bin, "--bogus"], {
    encoding: "utf8",
    env: { ...process.env, LANG: "de_DE.UTF-8", LC_ALL: "", LC_MESSAGES: "" },
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^E: inst-count: Unbekanntes Argument: bogus$/m);
});
