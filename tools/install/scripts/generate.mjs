#!/usr/bin/env node
// Build step: a man page (section 1) and bash and zsh completion for every
// bin, from what its --help prints under DICOM_PIPES_MANUAL=json (the help
// text's parts and the option table argv is parsed with), so the man page,
// the completion and --help cannot drift apart.
//
//   node tools/install/scripts/generate.mjs [--out DIR]   (default: tools/install/dist)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  dcmtkCounterpart,
  MANUAL_ENV,
  readmeSummary,
  renderBashCompletion,
  renderManPage,
  renderZshCompletion,
  toolEnvironment,
} from "@dicom-pipes/dimse/cli";
import { bins, GENERATED, generatedFiles } from "./bins.mjs";

/** The tools that read records or lines (from stdin or files), bounded by DICOM_PIPES_MAX_LINE. */
const READS_RECORDS = new Set([
  "findscu-ts",
  "movescu-ts",
  "getscu-ts",
  "storescu-ts",
  "inst-count",
  "weekday-plot",
  "dcmanon",
]);

function helpData(bin, args) {
  const r = spawnSync(process.execPath, [bin, ...args, "--help"], {
    encoding: "utf8",
    env: { ...process.env, [MANUAL_ENV]: "json" },
  });
  if (r.status !== 0)
    throw new Error(`${bin} ${args.join(" ")} --help exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const outIndex = process.argv.indexOf("--out");
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : GENERATED;
rmSync(join(out, "share"), { recursive: true, force: true });

const all = bins();
for (const b of all) {
  const data = helpData(b.bin, []);
  const commands = {};
  // dcmdir's commands: the word after the tool's name in each synopsis.
  for (const name of new Set(
    (data.help.commands ?? []).map(([synopsis]) => synopsis.split(" ")[1]),
  ))
    commands[name] = helpData(b.bin, [name]);
  const readmeFile = join(b.dir, "README.md");
  const counterpart = dcmtkCounterpart(b.name);
  const page = {
    data,
    commands: data.help.commands ? commands : undefined,
    version: b.version,
    readme: existsSync(readmeFile) ? readmeSummary(readFileSync(readmeFile, "utf8")) : undefined,
    environment: toolEnvironment(
      [data, ...Object.values(commands)].flatMap((d) => d.options),
      READS_RECORDS.has(b.name),
    ),
    seeAlso: [
      ...(counterpart ? [`${counterpart}(1)`] : []),
      ...all.filter((o) => o.name !== b.name).map((o) => `${o.name}(1)`),
    ],
  };
  const [man, bash, zsh] = generatedFiles(b.name).map((f) => join(out, f));
  writeAtomic(man, renderManPage(page));
  writeAtomic(bash, renderBashCompletion(page));
  writeAtomic(zsh, renderZshCompletion(page));
}
