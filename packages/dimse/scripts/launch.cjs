// Start of every bin (packages/<tool>/bin/<tool>.js): runs the tool's
// bundle, dist/main.bundle.cjs (built by bundle.mjs), through V8's code
// cache. CommonJS all the way from the bin: an ES module entry costs Node
// its ESM loader on every start.
//
// Node 20 compiles the functions of a script again on every start; the
// build runs each bin once with DICOM_PIPES_WRITE_CODE_CACHE=1, which
// writes what was compiled to dist/main.bundle.cjs.cache, and later starts
// hand it to V8. A cache V8 rejects (another Node version, other flags, a
// rebuilt bundle) or a missing one only costs the compilation it saves.
"use strict";
const { isAscii } = require("node:buffer");
const { readFileSync, renameSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const { Script } = require("node:vm");

/**
 * A stand-in for one of Node's modules that loads it on first use: the
 * bundle requires its slower builtins as `lazy:node:<name>` (bundle.mjs).
 */
function lazyBuiltin(id) {
  let m;
  const load = () => {
    m ??= require(id);
    return m;
  };
  return new Proxy(
    {},
    {
      get: (_, key) => load()[key],
      has: (_, key) => key in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_, key) => {
        const d = Reflect.getOwnPropertyDescriptor(load(), key);
        return d && { ...d, configurable: true };
      },
    },
  );
}

/** The bundle's `require`: Node's, plus `lazy:` ids. */
function bundleRequire(file) {
  const real = createRequire(file);
  const lazy = new Map();
  const req = (id) => {
    if (!id.startsWith("lazy:")) return real(id);
    let m = lazy.get(id);
    if (!m) lazy.set(id, (m = lazyBuiltin(id.slice(5))));
    return m;
  };
  return Object.assign(req, { resolve: real.resolve, cache: real.cache });
}

const LAZY = "lazy-bundle:";
const lazyLoaded = new Map();

/** A lazy bundle's exports, loaded once. */
function lazyBundle(file) {
  let exports = lazyLoaded.get(file);
  if (!exports) lazyLoaded.set(file, (exports = loadBundle(file).exports));
  return exports;
}

const runMain = ({ main, processIo }) => main(process.argv.slice(2), processIo());

/**
 * Compiles (with its code cache) and runs the bundle `file`: its exports,
 * and a function writing the code cache of what has been compiled so far.
 */
function loadBundle(file) {
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const bytes = readFileSync(file);
  // esbuild writes ASCII; a one-byte string is quicker to make and to hash.
  const source = isAscii(bytes) ? bytes.latin1Slice() : bytes.utf8Slice();
  // The bundle is `(function (exports, require, module, __filename, __dirname, __imp_) {…})`.
  const script = new Script(source, { filename: file, cachedData });
  const module = { exports: {} };
  // import() of the large dependencies left outside the bundle (resolved from here: npm
  // workspaces install them at the root), and of the package's lazy bundles
  // (`lazy-bundle:<name>`: dist/<name>.bundle.cjs, through their code cache).
  const importExternal = (id) =>
    id.startsWith(LAZY)
      ? Promise.resolve().then(() =>
          lazyBundle(join(dirname(file), `${id.slice(LAZY.length)}.bundle.cjs`)),
        )
      : import(id);
  script.runInThisContext()(
    module.exports,
    bundleRequire(file),
    module,
    file,
    dirname(file),
    importExternal,
  );
  const writeCache = () => {
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
    renameSync(`${cacheFile}.tmp`, cacheFile);
  };
  return { exports: module.exports, writeCache };
}

/**
 * Loads the bundle of the package holding the bin `binFile`, runs
 * `start(exports)` (by default `main(argv, processIo())`) and sets the
 * process's exit code to what it returns.
 */
function launch(binFile, start = runMain) {
  const { exports, writeCache } = loadBundle(
    join(dirname(dirname(binFile)), "dist", "main.bundle.cjs"),
  );
  Promise.resolve(start(exports)).then((code) => {
    process.exitCode = code;
    if (process.env.DICOM_PIPES_WRITE_CODE_CACHE === "1") writeCache();
  });
}

module.exports = { launch, loadBundle };
