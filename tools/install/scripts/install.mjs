#!/usr/bin/env node
// npm run install-bins -- [--prefix DIR]     (default: ~/.local)
// npm run uninstall-bins -- [--prefix DIR]
//
// Installs every bin of the checkout as DIR/bin/<tool>, a two-line sh
// wrapper that runs `node /checkout/packages/<pkg>/bin/<tool>.js "$@"`,
// with its man page (DIR/share/man/man1) and bash and zsh completion
// (DIR/share/bash-completion/completions, DIR/share/zsh/site-functions).
// A wrapper rather than a symlink: it works whatever the bin file's mode or
// module format, and the installed file is ours, so uninstalling can tell
// it from a file someone put there since.
//
// What was installed (each file with its SHA-256, each folder created) is
// kept in DIR/share/dicom-pipes/install-manifest.json, written before the
// files; uninstall removes exactly those files (unless changed since), then
// the manifest, then the folders it created if they are empty. A file that
// is in the way and is not in the manifest is never overwritten.
//
// Exit status (README "Exit status"): 0 done; 1 a file in the way, or an
// I/O error; 2 usage error, tools not built, nothing installed under DIR;
// 3 uninstall left files changed since they were installed.
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { bins, GENERATED, generatedFiles, ROOT } from "./bins.mjs";

const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, PARTIAL: 3 };
const MANIFEST = join("share", "dicom-pipes", "install-manifest.json");

class Failure extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const [command, ...args] = process.argv.slice(2);
const tool = command === "uninstall" ? "uninstall-bins" : "install-bins";
const log = (level, message) => process.stderr.write(`${level}: ${tool}: ${message}\n`);

function usage() {
  return (
    `usage: npm run ${tool} -- [--prefix DIR]\n\n` +
    (command === "uninstall"
      ? "Removes what npm run install-bins installed under DIR (default: ~/.local).\n"
      : "Installs every dicom-pipes command under DIR/bin (default: ~/.local), man pages under\n" +
        "DIR/share/man/man1, bash completion under DIR/share/bash-completion/completions and\n" +
        "zsh completion under DIR/share/zsh/site-functions.\n")
  );
}

function parseArgs(argv) {
  let prefix = join(homedir(), ".local");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") return { help: true };
    if (a === "--prefix" || a.startsWith("--prefix=")) {
      const v = a === "--prefix" ? argv[++i] : a.slice("--prefix=".length);
      if (!v) throw new Failure(EXIT.USAGE, "--prefix needs a folder");
      prefix = v;
    } else throw new Failure(EXIT.USAGE, `unknown argument ${JSON.stringify(a)} (--prefix DIR)`);
  }
  return { prefix: resolve(prefix) };
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

/** Single-quoted for sh. */
const shQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function wrapper(b) {
  return (
    "#!/bin/sh\n" +
    `# ${b.name} from dicom-pipes; installed by npm run install-bins; removed by npm run uninstall-bins\n` +
    `exec node ${shQuote(b.bin)} "$@"\n`
  );
}

/** Write a file whole: a temporary file beside it, synced, then renamed over it. */
function writeAtomic(path, data, mode) {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Create `dir` and its missing parents; returns those created, outermost first. */
function makeDirs(dir) {
  const missing = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
  return missing;
}

/** A path from the manifest, checked to stay inside the prefix. */
function inside(prefix, rel) {
  const abs = resolve(prefix, rel);
  if (typeof rel !== "string" || isAbsolute(rel) || !abs.startsWith(prefix + sep))
    throw new Failure(
      EXIT.FAILURE,
      `${join(prefix, MANIFEST)}: ${JSON.stringify(rel)} is not a path inside ${prefix}`,
    );
  return abs;
}

function readManifest(prefix) {
  const file = join(prefix, MANIFEST);
  if (!existsSync(file)) return undefined;
  let m;
  try {
    m = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Failure(EXIT.FAILURE, `${file}: not a manifest (${e.message})`);
  }
  if (!Array.isArray(m?.files) || !Array.isArray(m?.dirs))
    throw new Failure(EXIT.FAILURE, `${file}: not a manifest (files and dirs expected)`);
  for (const f of m.files) inside(prefix, f.path);
  for (const d of m.dirs) if (d !== ".") inside(prefix, d);
  return m;
}

function install(prefix) {
  if (ROOT.includes("\n")) throw new Failure(EXIT.USAGE, "the checkout's path has a line break");
  const all = bins();
  const missing = all
    .flatMap((b) => [b.built, ...generatedFiles(b.name).map((f) => join(GENERATED, f))])
    .filter((f) => !existsSync(f));
  if (missing.length)
    throw new Failure(
      EXIT.USAGE,
      `the tools are not built (no ${relative(ROOT, missing[0])}); run npm run build first`,
    );
  const planned = [];
  for (const b of all) {
    planned.push({ path: join("bin", b.name), data: Buffer.from(wrapper(b)), mode: 0o755 });
    for (const f of generatedFiles(b.name))
      planned.push({ path: f, data: readFileSync(join(GENERATED, f)), mode: 0o644 });
  }
  const old = readManifest(prefix);
  const ours = new Set(old?.files.map((f) => f.path) ?? []);
  const inTheWay = planned.filter((p) => !ours.has(p.path) && pathExists(join(prefix, p.path)));
  if (inTheWay.length)
    throw new Failure(
      EXIT.FAILURE,
      `${join(prefix, inTheWay[0].path)} exists and was not installed by install-bins` +
        `${inTheWay.length > 1 ? ` (and ${inTheWay.length - 1} more)` : ""}; nothing was installed (remove it, or choose another --prefix)`,
    );
  // The manifest first (with the folders this run creates), so an interrupted install can be undone or redone.
  const dirs = [...(old?.dirs ?? [])];
  const note = (created) => {
    for (const d of created) {
      const rel = relative(prefix, d) || ".";
      if (!dirs.includes(rel)) dirs.push(rel);
    }
  };
  // Folders above the prefix are made but not removed again: only what is inside DIR is ours.
  note(makeDirs(prefix).filter((d) => d === prefix));
  note(makeDirs(dirname(join(prefix, MANIFEST))));
  for (const p of planned) note(makeDirs(dirname(join(prefix, p.path))));
  const files = planned.map((p) => ({ path: p.path, sha256: sha256(p.data) }));
  writeAtomic(
    join(prefix, MANIFEST),
    `${JSON.stringify({ checkout: ROOT, files, dirs }, null, 1)}\n`,
    0o644,
  );
  for (const p of planned) writeAtomic(join(prefix, p.path), p.data, p.mode);
  // Files an earlier install put there that this one no longer has.
  const now = new Set(planned.map((p) => p.path));
  for (const f of old?.files ?? []) if (!now.has(f.path)) removeIfUnchanged(prefix, f);
  log("I", `${all.length} commands in ${join(prefix, "bin")}, with man pages and completion`);
  const path = (process.env.PATH ?? "").split(":");
  if (!path.includes(join(prefix, "bin")))
    log("W", `${join(prefix, "bin")} is not on PATH: export PATH="${join(prefix, "bin")}:$PATH"`);
  return EXIT.OK;
}

function pathExists(p) {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Remove an installed file unless it changed since; false when it was left. */
function removeIfUnchanged(prefix, f) {
  const abs = inside(prefix, f.path);
  if (!pathExists(abs)) return true;
  const st = lstatSync(abs);
  if (!st.isFile() || sha256(readFileSync(abs)) !== f.sha256) {
    log("W", `${abs} changed since it was installed; left in place`);
    return false;
  }
  unlinkSync(abs);
  return true;
}

function uninstall(prefix) {
  const m = readManifest(prefix);
  if (!m)
    throw new Failure(
      EXIT.USAGE,
      `nothing installed under ${prefix} (no ${join(prefix, MANIFEST)})`,
    );
  let left = 0;
  for (const f of m.files) if (!removeIfUnchanged(prefix, f)) left++;
  unlinkSync(join(prefix, MANIFEST));
  // Folders the install created, innermost first, when nothing else is in them.
  for (const d of [...m.dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(d === "." ? prefix : inside(prefix, d));
    } catch (e) {
      if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST" && e.code !== "ENOENT") throw e;
    }
  }
  log("I", `${m.files.length - left} files removed from ${prefix}`);
  return left ? EXIT.PARTIAL : EXIT.OK;
}

try {
  if (command !== "install" && command !== "uninstall")
    throw new Failure(EXIT.USAGE, "give install or uninstall");
  const a = parseArgs(args);
  if (a.help) {
    process.stdout.write(usage());
    process.exitCode = EXIT.OK;
  } else process.exitCode = command === "install" ? install(a.prefix) : uninstall(a.prefix);
} catch (e) {
  if (!(e instanceof Failure)) {
    log("E", e.message);
    process.exitCode = EXIT.FAILURE;
  } else {
    log("E", e.message);
    if (
      e.code === EXIT.USAGE &&
      !e.message.includes("not built") &&
      !e.message.includes("nothing installed")
    )
      process.stderr.write(`usage: npm run ${tool} -- [--prefix DIR]\n`);
    process.exitCode = e.code;
  }
}
