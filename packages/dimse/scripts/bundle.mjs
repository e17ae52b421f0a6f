#!/usr/bin/env node
// Build step of every tool package (run in its folder after tsc): bundle
// src/main.ts and the workspace code it imports (@dicom-pipes/*, taken from
// their TypeScript sources) with the small pure-JS dependencies into one
// file, dist/main.bundle.js, with a source map pointing at the .ts files
// (read only when a stack trace is printed: bundle-start.ts).
// The bin scripts load it: one file to read and compile instead of a few
// hundred to resolve, which is most of a tool's start-up time.
// Large or native dependencies stay outside and are imported where used.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const EXTERNAL = [
  "@napi-rs/canvas",
  "better-sqlite3",
  "date-holidays",
  "dcmjs",
  "vega",
  "vega-lite",
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

const outfile = join(pkgDir, "dist/main.bundle.js");

/**
 * yargs' platform shim finds its locale files (and, for its unused version
 * guess, a package.json) from its own URL: inside the bundle that URL is
 * the bundle's, so it is pointed back at the shim's file in node_modules.
 */
const yargsShimUrl = {
  name: "yargs-shim-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      const rel = relative(dirname(outfile), args.path).split(sep).join("/");
      const text = readFileSync(args.path, "utf8").replaceAll(
        "import.meta.url",
        `new URL(${JSON.stringify(rel)}, import.meta.url).href`,
      );
      return { contents: text, loader: "js", resolveDir: dirname(args.path) };
    });
  },
};

await build({
  entryPoints: [join(pkgDir, "src/main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  sourcesContent: false,
  external: EXTERNAL,
  inject: [fileURLToPath(new URL("./bundle-start.ts", import.meta.url))],
  plugins: [workspaceSources, textWidth, yargsShimUrl],
  logLevel: "warning",
});
