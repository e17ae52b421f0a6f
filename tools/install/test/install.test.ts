/**
 * npm run install-bins / uninstall-bins, spawned: the installed commands run
 * from another folder with a minimal PATH, their man pages render and
 * their completion completes; uninstall leaves the prefix as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const SCRIPTS = join(ROOT, "tools", "install", "scripts");
const work = mkdtempSync(join(tmpdir(), "install-test-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

/** The installer of a checkout (this one unless `root`), as `npm run` runs it. */
function installer(
  command: "install" | "uninstall",
  prefix: string,
  root = ROOT,
): SpawnSyncReturns<string> {
  return spawnSync(
    process.execPath,
    [join(root, "tools", "install", "scripts", "install.mjs"), command, "--prefix", prefix],
    { encoding: "utf8", cwd: root },
  );
}

/** Every path under a folder with its mode and a hash of its content. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = statSync(p);
      if (st.isDirectory()) {
        out.push(`${p.slice(dir.length)}/ ${st.mode.toString(8)}`);
        walk(p);
      } else
        out.push(
          `${p.slice(dir.length)} ${st.mode.toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`,
        );
    }
  };
  walk(dir);
  return out;
}

/** Run an installed command as a user would: another folder, only DIR/bin and node's folder on PATH. */
function runInstalled(prefix: string, cmd: string, args: string[], input?: string) {
  return spawnSync(join(prefix, "bin", cmd), args, {
    encoding: "utf8",
    cwd: tmpdir(),
    input,
    env: { PATH: `${join(prefix, "bin")}:${dirname(process.execPath)}` },
  });
}

test("npm run install-bins: every command runs from another folder with a minimal PATH; man, completion; uninstall restores the prefix", () => {
  const prefix = join(work, "my prefix");
  mkdirSync(join(prefix, "bin"), { recursive: true });
  writeFileSync(join(prefix, "bin", "someone-elses-tool"), "#!/bin/sh\necho mine\n", {
    mode: 0o755,
  });
  const before = snapshot(prefix);

  const npm = spawnSync("npm", ["run", "-s", "install-bins", "--", "--prefix", prefix], {
    encoding: "utf8",
    cwd: ROOT,
  });
  assert.equal(npm.status, 0, npm.stderr);
  const installed = readdirSync(join(prefix, "bin")).sort();
  for (const name of ["findscu-ts", "movescu-ts", "getscu-ts", "inst-count", "dcmdir", "dcmanon"])
    assert.ok(installed.includes(name), installed.join(" "));

  // --help and --version of every installed command.
  for (const name of installed.filter((n) => n !== "someone-elses-tool")) {
    const h = runInstalled(prefix, name, ["--help"]);
    assert.equal(h.status, 0, `${name}: ${h.stderr}`);
    assert.ok(h.stdout.startsWith(`${name}: `), name);
    assert.match(runInstalled(prefix, name, ["--version"]).stdout, new RegExp(`^${name} \\d`));
  }

  // A real job: inst-count reads NDJSON on stdin (a repeated study counts once).
  const studies = [
    { InstitutionName: "Klinik A", StudyInstanceUID: "1.2.1", StudyDate: "20240105" },
    { InstitutionName: "Klinik A", StudyInstanceUID: "1.2.2", StudyDate: "20240106" },
    { InstitutionName: "Klinik A", StudyInstanceUID: "1.2.2", StudyDate: "20240106" },
    { InstitutionName: "MÜLLER-Spital", StudyInstanceUID: "1.2.3", StudyDate: "20240107" },
  ];
  const count = runInstalled(
    prefix,
    "inst-count",
    ["--timeframe", "all", "--format", "ndjson", "-"],
    studies.map((s) => JSON.stringify(s)).join("\n"),
  );
  assert.equal(count.status, 0, count.stderr);
  const rows = count.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rows.map((r) => [r.InstitutionName, r.count]).sort(), [
    ["Klinik A", 2],
    ["MÜLLER-Spital", 1],
  ]);

  // The man page, found through the prefix's man folder.
  if (spawnSync("man", ["--version"]).status === 0) {
    const m = spawnSync("man", ["-M", join(prefix, "share", "man"), "findscu-ts"], {
      encoding: "utf8",
      env: { ...process.env, MANWIDTH: "80", PAGER: "cat", MANPAGER: "cat" },
    });
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stdout.replace(/.\x08/g, ""), /findscu-ts - DICOM query \(C-FIND\) SCU/);
  }
  // bash completion from the installed file.
  const c = spawnSync(
    "bash",
    [
      "-c",
      `source "$1"; COMP_WORDS=(findscu-ts --ke); COMP_CWORD=1; _dicom_pipes_findscu_ts; echo "\${COMPREPLY[@]}"`,
      "bash",
      join(prefix, "share", "bash-completion", "completions", "findscu-ts"),
    ],
    { encoding: "utf8" },
  );
  assert.equal(c.status, 0, c.stderr);
  assert.ok(c.stdout.trim().split(" ").includes("--key"), c.stdout);
  assert.ok(existsSync(join(prefix, "share", "zsh", "site-functions", "_findscu-ts")));

  // Installing again replaces our files.
  assert.equal(installer("install", prefix).status, 0);

  const un = spawnSync("npm", ["run", "-s", "uninstall-bins", "--", "--prefix", prefix], {
    encoding: "utf8",
    cwd: ROOT,
  });
  assert.equal(un.status, 0, un.stderr);
  assert.deepEqual(snapshot(prefix), before);
  const again = installer("uninstall", prefix);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /^E: uninstall-bins: nothing installed under .*my prefix/);
});

test("a file in the way is never overwritten; a file changed since install is left by uninstall", () => {
  const prefix = join(work, "taken");
  mkdirSync(join(prefix, "bin"), { recursive: true });
  writeFileSync(join(prefix, "bin", "findscu-ts"), "#!/bin/sh\necho my own findscu-ts\n");
  const before = snapshot(prefix);
  const r = installer("install", prefix);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /findscu-ts exists and was not installed by install-bins; nothing was installed/,
  );
  assert.deepEqual(snapshot(prefix), before);

  const fresh = join(work, "fresh", "prefix");
  assert.equal(installer("install", fresh).status, 0);
  writeFileSync(join(fresh, "bin", "inst-count"), "#!/bin/sh\necho edited\n");
  const u = installer("uninstall", fresh);
  assert.equal(u.status, 3);
  assert.match(u.stderr, /inst-count changed since it was installed; left in place/);
  assert.deepEqual(readdirSync(join(fresh, "bin")), ["inst-count"]);
  assert.equal(existsSync(join(fresh, "share")), false);
});

test("tools not built: exit 2 naming what is missing, nothing installed", () => {
  const root = join(work, "unbuilt");
  cpSync(SCRIPTS, join(root, "tools", "install", "scripts"), { recursive: true });
  mkdirSync(join(root, "packages", "a-tool", "bin"), { recursive: true });
  writeFileSync(
    join(root, "packages", "a-tool", "package.json"),
    JSON.stringify({ name: "a-tool", version: "1.0.0", bin: { "a-tool": "bin/a-tool.js" } }),
  );
  const prefix = join(work, "unbuilt-prefix");
  const r = installer("install", prefix, root);
  assert.equal(r.status, 2);
  assert.equal(
    r.stderr,
    "E: install-bins: the tools are not built (no packages/a-tool/dist/main.js); run npm run build first\n",
  );
  assert.equal(existsSync(prefix), false);
});

test("the wrapper quotes the checkout's path for sh and passes arguments unchanged", () => {
  const root = join(work, `it's a "checkout" $HOME \`x\``);
  cpSync(SCRIPTS, join(root, "tools", "install", "scripts"), { recursive: true });
  const pkg = join(root, "packages", "args");
  mkdirSync(join(pkg, "bin"), { recursive: true });
  mkdirSync(join(pkg, "dist"), { recursive: true });
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({ name: "args", version: "1.0.0", bin: { args: "bin/args.js" } }),
  );
  writeFileSync(
    join(pkg, "bin", "args.js"),
    "console.log(JSON.stringify(process.argv.slice(2)));\n",
  );
  writeFileSync(join(pkg, "dist", "main.js"), "");
  const gen = join(root, "tools", "install", "dist", "share");
  for (const f of [
    "man/man1/args.1",
    "bash-completion/completions/args",
    "zsh/site-functions/_args",
  ]) {
    mkdirSync(dirname(join(gen, f)), { recursive: true });
    writeFileSync(join(gen, f), "generated\n");
  }
  const prefix = join(work, "quoted");
  assert.equal(installer("install", prefix, root).status, 0);
  const r = runInstalled(prefix, "args", ["a b", "$HOME", "'", ""]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ["a b", "$HOME", "'", ""]);
  assert.equal(installer("uninstall", prefix, root).status, 0);
  assert.equal(existsSync(prefix), false);
});
