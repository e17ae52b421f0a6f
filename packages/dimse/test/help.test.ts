/**
 * The help and version of every tool: the version line, the dictionary
 * source it names (checked against the installed dcmjs), the help layout,
 * a yargs instance read back as an option table, and the man page and
 * completion renderers on a small table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { DICTIONARY_SOURCE } from "../src/dicom/dict-source.js";
import {
  formatHelp,
  MANUAL_ENV,
  optionChoices,
  printHelp,
  readmeSummary,
  renderBashCompletion,
  renderManPage,
  versionLine,
  type HelpText,
  type OptionSpec,
} from "../src/cli/index.js";
import { parseYargs, toolYargs, yargsHelp } from "../src/cli/yargs.js";
import type { Io } from "../src/io/io.js";
import { tmpFile } from "./helpers.js";

function captureIo(env: NodeJS.ProcessEnv = {}): { io: Io; out: () => string } {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on("data", (c: Buffer) => chunks.push(c));
  const io = { stdin: new PassThrough(), stdout, stderr: new PassThrough(), env } as unknown as Io;
  return { io, out: () => Buffer.concat(chunks).toString("utf8") };
}

test("the dictionary source is the installed dcmjs, and the version line names it", () => {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve("dcmjs"));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  const dcmjs = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string };
  assert.equal(DICTIONARY_SOURCE, `dcmjs ${dcmjs.version}`);
  assert.equal(
    versionLine("findscu-ts", "0.1.0"),
    `findscu-ts 0.1.0 (dicom-pipes; DICOM dictionary: dcmjs ${dcmjs.version})`,
  );
  assert.equal(
    versionLine("dcmanon", "0.2.0", ["PS3.15 2026d Table E.1-1"]),
    `dcmanon 0.2.0 (dicom-pipes; DICOM dictionary: dcmjs ${dcmjs.version}; PS3.15 2026d Table E.1-1)`,
  );
});

const SPECS: OptionSpec[] = [
  {
    key: "help",
    flags: ["-h", "--help"],
    kind: "flag",
    group: "general options",
    describe: "print this help text and exit",
  },
  {
    key: "format",
    flags: ["--format"],
    kind: "value",
    metavar: "ndjson|csv|tsv",
    group: "output options",
    describe: "output format",
  },
  {
    key: "lc",
    flags: ["-lc", "--log-config"],
    kind: "value",
    metavar: "[f]ilename",
    group: "general options",
    describe: "ignored",
    hidden: true,
  },
  {
    key: "long",
    flags: ["--long"],
    kind: "flag",
    group: "output options",
    describe:
      "a description long enough that it has to be wrapped at the help's width of one hundred columns, at a space",
  },
];
const HELP: HelpText = {
  tool: "demo-ts",
  title: "a demonstration",
  usage: "demo-ts [options] FILE",
  examples: ["demo-ts a.dcm", ["demo-ts --format csv a.dcm > a.csv", "as CSV"]],
  exits: [0, 2],
};

test("formatHelp: examples on their own lines with their note above, long descriptions wrapped, exit statuses last", () => {
  const text = formatHelp(HELP, SPECS);
  assert.match(
    text,
    /^examples:\n {2}demo-ts a\.dcm\n {2}# as CSV\n {2}demo-ts --format csv a\.dcm > a\.csv\n\n/m,
  );
  assert.match(
    text,
    /^ {9}--long {17}a description long enough that it has to be wrapped at the help's\n {32}width of one hundred columns, at a space$/m,
  );
  assert.doesNotMatch(text, /--log-config/);
  assert.ok(text.trimEnd().endsWith("130  interrupted (SIGINT), 143 terminated (SIGTERM)"));
  for (const l of text.split("\n")) assert.ok(l.length <= 100, l);
});

test("printHelp: the text, or under DICOM_PIPES_MANUAL=json the help and the whole option table", () => {
  const plain = captureIo();
  printHelp(plain.io, HELP, SPECS);
  assert.equal(plain.out(), formatHelp(HELP, SPECS));
  const json = captureIo({ [MANUAL_ENV]: "json" });
  printHelp(json.io, HELP, SPECS);
  assert.deepEqual(JSON.parse(json.out()), { help: HELP, options: SPECS });
});

function demoYargs() {
  return toolYargs("demo", "1.2.3", {
    title: "a yargs demo",
    streams: "Reads stdin.",
    exits: [0, 1, 2],
  })
    .usage("demo [options] [INPUT...]\n\nCounts things.")
    .options({
      by: { type: "string", default: "InstitutionName", describe: "count by", group: "Counting:" },
      per: { choices: ["study", "series"] as const, describe: "unit", group: "Counting:" },
      top: { alias: "n", type: "number", describe: "largest N", group: "Output:" },
      secret: { type: "boolean", hidden: true, describe: "not shown" },
    })
    .example("demo --by Modality a.ndjson", "per modality");
}

test("yargsHelp: every option yargs accepts, with its aliases, group, value and default; examples kept", () => {
  const { help, options } = yargsHelp(demoYargs());
  const byKey = Object.fromEntries(options.map((o) => [o.key, o]));
  assert.deepEqual(byKey.top?.flags, ["-n", "--top"]);
  assert.equal(byKey.top?.metavar, "N");
  assert.equal(byKey.top?.group, "output options");
  assert.equal(byKey.per?.metavar, "study|series");
  assert.deepEqual(optionChoices(byKey.per!), ["study", "series"]);
  assert.equal(byKey.by?.describe, "count by (default: InstitutionName)");
  assert.equal(byKey.secret?.hidden, true);
  assert.equal(byKey.quiet?.group, "general options");
  assert.deepEqual(byKey.version?.flags, ["--version"]);
  assert.equal(help.title, "a yargs demo");
  assert.equal(help.usage, "demo [options] [INPUT...]");
  assert.equal(help.description, "Counts things.");
  assert.deepEqual(help.examples, [["demo --by Modality a.ndjson", "per modality"]]);
  assert.deepEqual(help.exits, [0, 1, 2]);
});

test("parseYargs: --help in the one layout, --version the version line", async () => {
  const h = captureIo();
  assert.equal((await parseYargs(demoYargs(), ["--help"], h.io)).done, true);
  assert.match(h.out(), /^demo: a yargs demo\nusage: demo \[options\] \[INPUT\.\.\.\]\n/);
  assert.match(h.out(), /\nexamples:\n {2}# per modality\n {2}demo --by Modality a\.ndjson\n/);
  assert.doesNotMatch(h.out(), /Examples:|--secret/);
  const v = captureIo();
  await parseYargs(demoYargs(), ["--version"], v.io);
  assert.match(v.out(), /^demo 1\.2\.3 \(dicom-pipes; DICOM dictionary: dcmjs [\d.]+\)\n$/);
});

test("renderManPage: roff that man renders, hidden options listed, hyphens escaped", (t) => {
  const roff = renderManPage({
    data: { help: HELP, options: SPECS },
    version: "0.1.0",
    readme: "Runs `demo-ts` on [files](x.md).",
    environment: [["DICOM_PIPES_MAX_LINE", "longest line"]],
    seeAlso: ["findscu(1)"],
  });
  assert.match(roff, /^\.TH "DEMO\\-TS" "1" /m);
  assert.match(roff, /^\.SH NAME\ndemo\\-ts \\- a demonstration$/m);
  assert.match(roff, /^Runs \\fBdemo\\-ts\\fR on files\.$/m);
  assert.match(
    roff,
    /^\.TP\n\\fB\\-lc\\fR, \\fB\\-\\-log\\-config\\fR \\fI\[f\]ilename\\fR\nignored$/m,
  );
  assert.match(roff, /^\.SH SEE ALSO\n\\fBfindscu\\fR\(1\)$/m);
  if (spawnSync("man", ["--version"]).status !== 0) return t.skip("no man");
  const file = tmpFile("demo.1");
  writeFileSync(file, roff);
  const r = spawnSync("man", ["--warnings", "-l", file], {
    encoding: "utf8",
    env: { ...process.env, MANWIDTH: "80", PAGER: "cat" },
  });
  assert.equal(r.stderr, "");
  assert.match(r.stdout.replace(/.\x08/g, ""), /-lc, --log-config \[f\]ilename/);
});

test("renderBashCompletion: options, an option's listed values, then file names", () => {
  const file = tmpFile("demo.bash");
  writeFileSync(
    file,
    renderBashCompletion({
      data: { help: HELP, options: SPECS },
      version: "0",
      environment: [],
      seeAlso: [],
    }),
  );
  const complete = (words: string[]) =>
    spawnSync(
      "bash",
      [
        "-c",
        `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _dicom_pipes_demo_ts; echo "\${COMPREPLY[*]}"`,
        "bash",
        file,
      ],
      { encoding: "utf8" },
    ).stdout.trim();
  assert.equal(complete(["demo-ts", "--f"]), "--format");
  assert.equal(complete(["demo-ts", "-"]), "--format --help --log-config --long -h -lc");
  assert.equal(complete(["demo-ts", "--format", "c"]), "csv");
  assert.equal(complete(["demo-ts", "a"]), "");
});

test("readmeSummary: the first paragraph after the title", () => {
  assert.equal(readmeSummary("# tool\n\nDoes a\nthing.\n\n```sh\ntool x\n```\n"), "Does a\nthing.");
});
