#!/usr/bin/env node
// Build step of every tool package (run in its folder after tsc): bundle
// src/main.ts and the workspace code it imports (@dicom-pipes/*, taken from
// their TypeScript sources) with the small pure-JS dependencies into one
// file, dist/main.bundle.cjs, with a source map pointing at the .ts files
// (read only when a stack trace is printed: bundle-start.ts), and its V8
// code cache. The bin scripts run it through scripts/launch.cjs: one file
// to read and compile instead of a few hundred to resolve. Large or native
// dependencies stay outside and are imported where used.
//
// A module src/<name>.lazy.ts is a bundle of its own, dist/<name>.lazy.bundle.cjs,
// with its large pure-JS dependencies inside (Vega for weekday-plot's charts),
// loaded by the launcher where the main bundle imports it, with its own code
// cache, written after running its `warmUp` export.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** Native dependencies: never inside a bundle. */
const NATIVE = ["@napi-rs/canvas", "better-sqlite3"];

/** Outside the main bundle, imported where used: the native and the large dependencies. */
const EXTERNAL = [
  ...NATIVE,
  "date-holidays",
  "dcmjs",
  "csv-stringify",
  "csv-parse",
  "read-excel-file",
  "dcmjs-codecs",
];

const pkgDir = process.cwd();
const require = createRequire(join(pkgDir, "package.json"));

/** `@dicom-pipes/<pkg>/<sub>` → the TypeScript source its `exports` types entry names. */
const workspaceSources = {
  name: "workspace-sources",
  setup(b) {
    b.onResolve({ filter: /^@dicom-pipes\// }, (args) => {
      const [, scope, name, ...rest] = /^(@[^/]+)\/([^/]+)(?:\/(.*))?$/.exec(args.path);
      const manifest = require.resolve(`${scope}/${name}/package.json`);
      const pkg = JSON.parse(readFileSync(manifest, "utf8"));
      const sub = rest[0] ? `./${rest[0]}` : ".";
      const types = pkg.exports?.[sub]?.types;
      if (!types) return undefined;
      const src = types.replace(/^\.\/dist\//, "./src/").replace(/\.d\.ts$/, ".ts");
      return { path: resolve(dirname(manifest), src) };
    });
  },
};

/** yargs' help layout measures text with string-width: ours is lighter (src/cli/text-width.ts). */
const textWidth = {
  name: "text-width",
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, () => ({
      path: fileURLToPath(new URL("../src/cli/text-width.ts", import.meta.url)),
    }));
  },
};

const outfile = join(pkgDir, "dist/main.bundle.cjs");

/**
 * yargs' platform shim finds its locale files (and, for its unused version
 * guess, a package.json) from its own URL: inside the bundle that URL is
 * the bundle's, so it is pointed back at the shim's file in node_modules.
 * Its assert calls (invariants checked on every parse) load node:assert
 * only to report a failure.
 */
const yargsShimUrl = {
  name: "yargs-shim-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      const rel = relative(dirname(outfile), args.path).split(sep).join("/");
      const text = readFileSync(args.path, "utf8")
        .replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`)
        // The terminal's width for yargs' own help layout (the tools lay out their help
        // themselves): reading process.stdout.columns would make process.stdout at every start.
        .replace(
          "typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null",
          "null",
        )
        // Its table of assert functions would read node:assert's exports at load.
        .replace(
          "import { notStrictEqual, strictEqual } from 'assert'",
          "const notStrictEqual = (a, b, m) => { if (Object.is(a, b)) require('assert').notStrictEqual(a, b, m); };\n" +
            "const strictEqual = (a, b, m) => { if (!Object.is(a, b)) require('assert').strictEqual(a, b, m); }",
        );
      return { contents: text, loader: "js", resolveDir: dirname(args.path) };
    });
    // argsert checks the types of the arguments of each yargs call the tool makes (a warning,
    // never an error): parsing its signature string again for each of the tool's options is a
    // noticeable part of building the parser, and the calls are typechecked.
    b.onLoad({ filter: /[\\/]yargs[\\/]build[\\/]lib[\\/]argsert\.js$/ }, () => ({
      contents: "export function argsert() {}",
      loader: "js",
    }));
  },
};

/**
 * Node's own modules (`node:` prefix or not) that cost a start-up noticeable time to load and that
 * most runs (every `--help`) never touch: the bundle requires them as
 * `lazy:node:<name>`, for which scripts/launch.cjs hands out a stand-in
 * that loads the module on first use. esbuild reaches a CommonJS module's
 * exports through the namespace object at each use
 * (`(0, import_node_crypto.createHash)(…)`), so the stand-in only needs
 * property reads.
 */
const LAZY_BUILTINS = [
  "assert",
  "child_process",
  "crypto",
  "dns/promises",
  "fs/promises",
  "net",
  "os",
  "perf_hooks",
  "readline",
  "stream/promises",
  "v8",
  "worker_threads",
  "zlib",
];

const BANNER = 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;';

/** `import … from "node:crypto"` → `require("lazy:node:crypto")`, which scripts/launch.cjs answers. */
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      const id = args.path.replace(/^node:/, "");
      if (!LAZY_BUILTINS.includes(id)) return undefined;
      return { path: `lazy:node:${id}`, external: true };
    });
  },
};

/** `import("./x.lazy.js")` in the main bundle → the launcher's `lazy-bundle:x.lazy`. */
const lazyBundles = {
  name: "lazy-bundles",
  setup(b) {
    b.onResolve({ filter: /\.lazy\.js$/ }, (args) => {
      // Only what the launcher serves: import() of a module src/<name>.lazy.ts of this package.
      const src = resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      if (
        args.kind !== "dynamic-import" ||
        dirname(src) !== join(pkgDir, "src") ||
        !existsSync(src)
      )
        return {
          errors: [
            {
              text: `${args.path}: a .lazy module is import()ed, and lives in src/ of this package`,
            },
          ],
        };
      return { path: `lazy-bundle:${basename(src, ".ts")}`, external: true };
    });
  },
};

/**
 * What a lazy bundle takes inside instead of the package's own file: vega-canvas's Node build
 * looks for node-canvas with a top-level await (not possible in CommonJS); its browser build
 * finds no canvas either, which is what the Node build does without node-canvas (the charts
 * draw on @napi-rs/canvas).
 */
function lazyAlias() {
  const alias = {};
  try {
    // Its exports map names only the entry points: beside the Node one.
    const node = require.resolve("vega-canvas");
    alias["vega-canvas"] = join(dirname(node), "vega-canvas.browser.js");
  } catch {
    // not a dependency of this package
  }
  return alias;
}

/** One bundle: `entry` into `out`, a function expression the launcher runs. */
async function bundle(entry, out, lazy) {
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: "node",
    // CommonJS, so that scripts/launch.cjs can run it through V8's code cache
    // (Node 20 has none for ES modules).
    format: "cjs",
    target: "node20",
    define: { "import.meta.url": "__bundleUrl" },
    // The file is one function expression (scripts/launch.cjs calls it with
    // CommonJS's arguments): the launcher compiles it as read, no copy.
    banner: {
      js: `(function (exports, require, module, __filename, __dirname, __imp_) { ${BANNER}`,
    },
    footer: { js: "})" },
    minifyWhitespace: true,
    sourcemap: "linked",
    sourcesContent: false,
    external: lazy ? NATIVE : EXTERNAL,
    alias: lazy ? lazyAlias() : undefined,
    inject: [fileURLToPath(new URL("./bundle-start.ts", import.meta.url))],
    plugins: [workspaceSources, textWidth, yargsShimUrl, lazyBuiltins, lazyBundles],
    logLevel: "warning",
  });

  // import() cannot run in a vm.Script without an experimental flag: the
  // bundle's import("<package>") calls (the external dependencies) go to
  // __imp_, the launcher's import(), a name as long as the keyword so that
  // the source map's columns still hold.
  const text = readFileSync(out, "utf8");
  const replaced = text.replace(/\bimport\((?="[^./"][^"]*"\))/g, "__imp_(");
  const left = /\bimport\(/.exec(replaced);
  if (left)
    throw new Error(
      `${out}: an import() the launcher cannot serve: ${replaced.slice(left.index, left.index + 60)}`,
    );
  writeFileSync(out, replaced);
  rmSync(`${out}.cache`, { force: true });
}

await bundle(join(pkgDir, "src/main.ts"), outfile, false);
const launcher = fileURLToPath(new URL("./launch.cjs", import.meta.url));
for (const f of readdirSync(join(pkgDir, "src")).filter((f) => f.endsWith(".lazy.ts"))) {
  const out = join(pkgDir, "dist", f.replace(/\.ts$/, ".bundle.cjs"));
  await bundle(join(pkgDir, "src", f), out, true);
  // Its code cache: compiled by running its warmUp.
  const warm = [
    `const { loadBundle } = require(${JSON.stringify(launcher)});`,
    `const b = loadBundle(${JSON.stringify(out)});`,
    "Promise.resolve(b.exports.warmUp?.()).then(() => b.writeCache());",
  ].join("\n");
  const r = spawnSync(process.execPath, ["-e", warm], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${f}: warmUp exited ${r.status ?? r.signal} after bundling`);
}

// The V8 code cache scripts/launch.cjs hands to the next starts: compiled by
// running the package's first bin once (`--help`, nothing else happens).
for (const old of ["dist/main.bundle.js", "dist/main.bundle.js.map"])
  rmSync(join(pkgDir, old), { force: true });
const bins = Object.values(
  JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).bin ?? {},
);
if (bins.length) {
  const r = spawnSync(process.execPath, [join(pkgDir, bins[0]), "--help"], {
    env: { ...process.env, DICOM_PIPES_WRITE_CODE_CACHE: "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (r.status !== 0)
    throw new Error(`${bins[0]} --help exited ${r.status ?? r.signal} after bundling`);
}
