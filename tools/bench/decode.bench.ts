/**
 * Decoding throughput: @dicom-pipes/dimse/codec (one Node process decoding
 * every file of a set, WebAssembly start-up included) vs `gdcmconv --raw`
 * (and DCMTK's decoder) run on each file of the same set, in one run:
 * files/s (median of runs) and peak RSS. Sets: a 512×512 16-bit CT in JPEG
 * lossless SV1 (dcmcjpeg +e1), JPEG-LS lossless (dcmcjpls), RLE (dcmcrle)
 * and JPEG 2000 lossless (gdcmconv --j2k).
 * BENCH_DECODE_FILES (200), BENCH_RUNS (3).
 */
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchCt, median, row, timed, type Sample } from "./common.js";

const FILES = Number(process.env.BENCH_DECODE_FILES ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
for (const bin of [
  "gdcmconv",
  "dcmcjpeg",
  "dcmdjpeg",
  "dcmcjpls",
  "dcmdjpls",
  "dcmcrle",
  "dcmdrle",
])
  if (spawnSync(bin, ["--version"]).error) {
    console.log(`decode bench needs ${bin} (apt-get install dcmtk libgdcm-tools)`);
    process.exit(0);
  }
const work = await mkdtemp(join(tmpdir(), "bench-decode-"));

const base = (await benchCt(join(work, "tpl"), "decode-bench")).path;

/** The script our side runs: decode each listed file to `out`, one process for all. */
const OURS = `
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { decompressFile } from "@dicom-pipes/dimse/codec";
const [list, out] = process.argv.slice(1);
for (const f of readFileSync(list, "utf8").split("\\n").filter(Boolean))
  await decompressFile(f, { to: join(out, basename(f)), fsync: false });
`;

interface Set {
  name: string;
  files: string[];
  peer: [string, string[]];
}

async function makeSet(name: string, bin: string, args: string[], peer: [string, string[]]) {
  const dir = join(work, name);
  await mkdir(dir);
  const one = join(dir, "0.dcm");
  const r = spawnSync(bin, [...args, base, one]);
  if (r.status !== 0) throw new Error(`${bin}: ${r.stderr}`);
  const files = [one];
  for (let i = 1; i < FILES; i++) {
    const f = join(dir, `${i}.dcm`);
    await copyFile(one, f);
    files.push(f);
  }
  return { name, files, peer } satisfies Set;
}

/** Run `bin args src dst` for every file, one process each, under /usr/bin/time as one shell loop. */
function perFile(set: Set, out: string): Promise<Sample> {
  const [bin, args] = set.peer;
  const script = `for f in "$@"; do ${bin} ${args.join(" ")} "$f" "${out}/$(basename "$f")" || exit 1; done`;
  return timed("sh", ["-c", script, "sh", ...set.files]);
}

async function ours(set: Set, out: string): Promise<Sample> {
  const list = join(work, `${set.name}.list`);
  await writeFile(list, `${set.files.join("\n")}\n`);
  return timed(process.execPath, ["--input-type=module", "-e", OURS, list, out]);
}

const sets = [
  await makeSet("jpeg-lossless-sv1", "dcmcjpeg", ["+e1"], ["dcmdjpeg", []]),
  await makeSet("jpeg-ls-lossless", "dcmcjpls", ["+el"], ["dcmdjpls", []]),
  await makeSet("rle", "dcmcrle", [], ["dcmdrle", []]),
  await makeSet("j2k-lossless", "gdcmconv", ["--j2k"], ["gdcmconv", ["--raw"]]),
];

console.log(`${FILES} files of 512x512x16 bit each, median of ${RUNS} runs; files/s (peak RSS MB)`);
const W = [20, 20, 22, 22, 10];
console.log(row(["set", "ours", "gdcmconv --raw", "DCMTK decoder", "ours/gdcm"], W));
for (const set of sets) {
  const o: Sample[] = [];
  const g: Sample[] = [];
  const d: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [who, into, run] of [
      ["ours", o, (out: string) => ours(set, out)],
      ["gdcm", g, (out: string) => perFile({ ...set, peer: ["gdcmconv", ["--raw"]] }, out)],
      ["dcmtk", d, (out: string) => perFile(set, out)],
    ] as const) {
      if (who === "dcmtk" && set.peer[0] === "gdcmconv") continue;
      const out = join(work, `out-${set.name}-${who}-${i}`);
      await mkdir(out);
      const s = await run(out);
      if (s.code !== 0) throw new Error(`${who} on ${set.name} exited ${s.code}`);
      into.push(s);
      await rm(out, { recursive: true, force: true });
    }
  }
  const rate = (xs: Sample[]) => FILES / median(xs.map((s) => s.wall));
  const rss = (xs: Sample[]) => Math.max(...xs.map((s) => s.rssMb));
  const cell = (xs: Sample[]) => `${rate(xs).toFixed(0)} (${rss(xs).toFixed(0)})`;
  const dcmtk = set.peer[0] === "gdcmconv" ? "-" : `${cell(d)} ${set.peer[0]}`;
  console.log(row([set.name, cell(o), cell(g), dcmtk, (rate(o) / rate(g)).toFixed(2)], W));
}
await rm(work, { recursive: true, force: true });
