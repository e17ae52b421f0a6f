/**
 * Man pages and completion against the option tables argv is parsed with:
 * regenerated from the real bins, every option a tool accepts is in its man
 * page, its bash completion (run in bash) and its zsh completion, and
 * nothing else; the pages render with man(1) without warnings; the build's
 * copies are the regenerated ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exitStatuses, MANUAL_ENV, optionFlags, type HelpData } from "@dicom-pipes/dimse/cli";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const GENERATE = join(ROOT, "tools", "install", "scripts", "generate.mjs");

/** Every bin the packages declare. */
const BINS: Array<{ name: string; bin: string }> = readdirSync(join(ROOT, "packages")).flatMap(
  (dir) => {
    const file = join(ROOT, "packages", dir, "package.json");
    if (!existsSync(file)) return [];
    const bin = (JSON.parse(readFileSync(file, "utf8")) as { bin?: Record<string, string> }).bin;
    return Object.entries(bin ?? {}).map(([name, rel]) => ({
      name,
      bin: join(ROOT, "packages", dir, rel),
    }));
  },
);

function helpData(bin: string, args: string[]): HelpData {
  const r = spawnSync(process.execPath, [bin, ...args, "--help"], {
    encoding: "utf8",
    env: { ...process.env, [MANUAL_ENV]: "json" },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as HelpData;
}

/** The option table of a bin and, for dcmdir, of each command (by command name; "" = the tool). */
function tables(bin: string): Map<string, HelpData> {
  const top = helpData(bin, []);
  const out = new Map([["", top]]);
  for (const [synopsis] of top.help.commands ?? []) {
    const name = synopsis.split(" ")[1]!;
    if (!out.has(name)) out.set(name, helpData(bin, [name]));
  }
  return out;
}

const out = mkdtempSync(join(tmpdir(), "manual-test-"));
process.on("exit", () => rmSync(out, { recursive: true, force: true }));
const gen = spawnSync(process.execPath, [GENERATE, "--out", out], { encoding: "utf8" });

const man = (name: string) => join(out, "share", "man", "man1", `${name}.1`);
const bash = (name: string) => join(out, "share", "bash-completion", "completions", name);
const zsh = (name: string) => join(out, "share", "zsh", "site-functions", `_${name}`);

/** The option spellings a man page documents: the bold words of each .TP tag that start with - or +. */
function manFlags(roff: string): string[] {
  const lines = roff.split("\n");
  const flags = new Set<string>();
  lines.forEach((l, i) => {
    if (lines[i - 1] !== ".TP") return;
    for (const m of l.matchAll(/\\fB((?:\\-|\+)[^\\]*(?:\\-[^\\]*)*)\\fR/g))
      flags.add(m[1]!.replace(/\\-/g, "-").replace(/\\e/g, "\\"));
  });
  return [...flags].sort();
}

/** What the bash completion offers for a word starting with - and with + (after `words`). */
function bashCompletes(file: string, fn: string, words: string[]): string[] {
  const got = new Set<string>();
  for (const cur of ["-", "+"]) {
    const all = [...words, cur].map((w) => `'${w}'`).join(" ");
    const r = spawnSync(
      "bash",
      [
        "-c",
        `source "$1"; COMP_WORDS=(${all}); COMP_CWORD=${words.length}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`,
        "bash",
        file,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    for (const w of r.stdout.split("\n")) if (w) got.add(w);
  }
  return [...got].sort();
}

function zshFlags(text: string, command?: string): string[] {
  let body = text;
  if (command !== undefined) {
    const start = text.indexOf(`\n  ${command})\n`);
    body = text.slice(start, text.indexOf("\n    ;;", start));
  }
  return [...new Set([...body.matchAll(/^\s+'([-+][^:']*):/gm)].map((m) => m[1]!))].sort();
}

const fnName = (tool: string) => `_dicom_pipes_${tool.replace(/[^\w]/g, "_")}`;

test("the generator runs every bin and writes a man page, bash and zsh completion for each", () => {
  assert.equal(gen.status, 0, gen.stderr);
  assert.ok(BINS.length >= 12, BINS.map((b) => b.name).join(" "));
  for (const { name } of BINS)
    for (const f of [man(name), bash(name), zsh(name)]) assert.ok(existsSync(f), f);
});

for (const { name, bin } of BINS) {
  test(`${name}: every option it parses is in its man page and completion, and nothing else`, () => {
    const t = tables(bin);
    const all = optionFlags([...t.values()].flatMap((d) => d.options));
    assert.ok(all.includes("--help") && all.includes("--version"), all.join(" "));
    assert.deepEqual(manFlags(readFileSync(man(name), "utf8")), all, "man page");
    const zshText = readFileSync(zsh(name), "utf8");
    for (const [command, data] of t) {
      if (t.size > 1 && command === "") {
        // dcmdir: the first word completes the commands and the tool's own options.
        const r = spawnSync(
          "bash",
          [
            "-c",
            `source "$1"; COMP_WORDS=(${name} ''); COMP_CWORD=1; ${fnName(name)}; printf '%s\\n' "\${COMPREPLY[@]}"`,
            "bash",
            bash(name),
          ],
          { encoding: "utf8" },
        );
        assert.deepEqual(
          r.stdout.split("\n").filter(Boolean).sort(),
          [...[...t.keys()].filter(Boolean), ...optionFlags(data.options)].sort(),
        );
        continue;
      }
      const words = command ? [name, command] : [name];
      assert.deepEqual(
        bashCompletes(bash(name), fnName(name), words),
        optionFlags(data.options),
        `bash ${command}`,
      );
      assert.deepEqual(
        zshFlags(zshText, command || undefined),
        optionFlags(data.options),
        `zsh ${command}`,
      );
    }
  });

  test(`${name}: man page sections, exit statuses from its table, rendered by man without warnings`, (t) => {
    const roff = readFileSync(man(name), "utf8");
    const data = tables(bin).get("")!;
    const sections = [...roff.matchAll(/^\.SH (.+)$/gm)].map((m) => m[1]);
    for (const s of ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"])
      assert.ok(sections.includes(s), `${s} in ${sections.join(", ")}`);
    if (name !== "dcmtk-shims") assert.ok(sections.includes("EXAMPLES"), "EXAMPLES");
    assert.match(roff, new RegExp(`^\\.SH NAME\\n${name.replace(/-/g, "\\\\-")} \\\\- \\S`, "m"));
    const exitBlock = roff.slice(
      roff.indexOf(".SH EXIT STATUS"),
      roff.indexOf("\n.SH", roff.indexOf(".SH EXIT STATUS") + 1),
    );
    const codes = [...exitBlock.matchAll(/^\.B (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      codes,
      exitStatuses(data.help.exits ?? []).map(([c]) => c),
    );
    assert.ok(codes.includes(0) && codes.includes(2) && codes.includes(130), codes.join(" "));
    if (optionFlags(data.options).includes("--peer"))
      assert.match(roff, /^\.B DICOM_PIPES_PEERS$/m);
    if (name.endsWith("-ts")) assert.match(roff, /\\fB(find|move|get|store|echo)sc[up]\\fR\(1\)/);
    const hasMan = spawnSync("man", ["--version"]).status === 0;
    const hasGroff = spawnSync("groff", ["--version"]).status === 0;
    if (!hasMan && !hasGroff) return t.skip("neither man nor groff");
    const r = hasMan
      ? spawnSync("man", ["--warnings", "-l", man(name)], {
          encoding: "utf8",
          env: { ...process.env, MANWIDTH: "80", MAN_KEEP_FORMATTING: "", PAGER: "cat" },
        })
      : spawnSync("groff", ["-man", "-Tutf8", "-ww", man(name)], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "no roff warnings");
    const text = r.stdout.replace(/.\x08/g, "");
    assert.match(text, new RegExp(`^NAME\\n\\s+${name} - `, "m"));
    assert.match(text, /^EXIT STATUS$/m);
  });
}

test("the build's man pages and completion are the ones the bins generate now", () => {
  const built = join(ROOT, "tools", "install", "dist");
  for (const { name } of BINS)
    for (const f of [man(name), bash(name), zsh(name)]) {
      const rel = f.slice(out.length);
      assert.equal(readFileSync(join(built, rel), "utf8"), readFileSync(f, "utf8"), rel);
    }
});

test("DCMTK-style tools: the option table in the help data is the one argv is parsed with", () => {
  // Every spelling in the table, with a value where it takes one, is accepted (--help
  // then prints the help); an option outside the table is a usage error.
  for (const name of [
    "findscu-ts",
    "movescu-ts",
    "getscu-ts",
    "storescu-ts",
    "storescp-ts",
    "echoscu-ts",
  ]) {
    const { bin } = BINS.find((b) => b.name === name)!;
    const data = helpData(bin, []);
    const argv: string[] = [];
    for (const o of data.options)
      for (const f of o.flags) {
        argv.push(f);
        if (o.kind === "value" || o.kind === "list") {
          const v = o.numeric ? String(o.min ?? 1) : (o.metavar?.split("|")[0] ?? "x");
          for (let i = 0; i < (o.arity ?? 1); i++) argv.push(v);
        }
      }
    const ok = spawnSync(process.execPath, [bin, ...argv, "--help"], { encoding: "utf8" });
    assert.equal(ok.status, 0, `${name}: ${ok.stderr}`);
    assert.ok(ok.stdout.startsWith(`${name}: `), name);
    const bad = spawnSync(process.execPath, [bin, "--not-in-the-table", "--help"], {
      encoding: "utf8",
    });
    assert.equal(bad.status, 2, name);
  }
});
