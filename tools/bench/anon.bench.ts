/**
 * dcmanon -j 2 vs gdcmanon (GDCM's PS3.15 Basic Profile, which needs an
 * X.509 certificate: made here with openssl) on the same 512×512 CT set,
 * in one run: files/s (median of runs, round robin), CPU seconds, and
 * dcmanon's peak RSS at 1 000 and at 10 000 files (memory must not grow with
 * the number of files); dcmanon with every image redacted (--clean-pixel-data,
 * a 512 × 40 banner) beside it. BENCH_ANON_FILES (1000), BENCH_ANON_LARGE (10000),
 * BENCH_RUNS (3); BENCH_BASE=/other/checkout also runs that checkout's
 * dcmanon in the same rounds (before/after).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { encodePart10, syntaxInfo } from "@dicom-pipes/dimse/dicom";
import { benchCt, median, node, row, timed, type Sample } from "./common.js";
import { binPath } from "@dicom-pipes/test-support/bins";

const FILES = Number(process.env.BENCH_ANON_FILES ?? 1000);
const LARGE = Number(process.env.BENCH_ANON_LARGE ?? 10000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BASE = process.env.BENCH_BASE;
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();
if (spawnSync("gdcmanon", ["--version"]).error || spawnSync("openssl", ["version"]).error) {
  console.log("anon bench needs gdcmanon (apt-get install libgdcm-tools) and openssl");
  process.exit(0);
}
const work = await mkdtemp(join(tmpdir(), "bench-anon-"));

// One 512×512 CT image from gen-archive, cloned into N instances (10 patients, one study each).
const template = (await benchCt(join(work, "tpl"), "anon-bench")).part10;
const ts = template.header.transferSyntax;

async function makeSet(dir: string, n: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const ds = template!.dataset.clone();
    const pat = i % 10;
    ds.setString(0x00100010, "PN", `BENCH^PATIENT${pat}`);
    ds.setString(0x00100020, "LO", `BENCH${String(pat).padStart(6, "0")}`);
    ds.setString(0x0020000d, "UI", `1.2.826.0.1.3680043.10.999.${pat}`);
    ds.setString(0x0020000e, "UI", `1.2.826.0.1.3680043.10.999.${pat}.1`);
    ds.setString(0x00080018, "UI", `1.2.826.0.1.3680043.10.999.${pat}.1.${i + 1}`);
    await writeFile(
      join(dir, `${String(i).padStart(6, "0")}.dcm`),
      encodePart10(ds, { transferSyntax: ts, sourceLittle: syntaxInfo(ts).little }),
    );
  }
}

const set = join(work, "ct");
await makeSet(set, FILES);
const banner = join(work, "banner.script");
await writeFile(banner, '{ Modality.equals("CT") }\n(0,0,511,39)\n');
const secret = join(work, "secret");
await writeFile(secret, "bench-secret-0123456789abcdef0123456789abcdef");
const key = join(work, "key.pem");
const cert = join(work, "cert.pem");
const ssl = spawnSync(
  "openssl",
  [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=dcmanon-bench",
  ],
  { stdio: "ignore" },
);
if (ssl.status !== 0) throw new Error("openssl could not make a certificate");

const [nodeCmd, nodeArgs] = node("dcmanon");
const baseArgs = BASE ? [binPath("dcmanon", BASE)] : [];
async function dcmanon(
  input: string,
  n: number,
  extra: string[] = [],
  args = nodeArgs,
  jobs = "2",
): Promise<Sample> {
  const out = join(work, `out-dcmanon-${n}`);
  await rm(out, { recursive: true, force: true });
  const s = await timed(nodeCmd, [
    ...args,
    "-j",
    jobs,
    ...extra,
    "--secret-file",
    secret,
    "-o",
    out,
    input,
  ]);
  await rm(out, { recursive: true, force: true });
  return s;
}
/** gdcmanon, with a final `sync` for comparison with dcmanon --fsync (which fsyncs every file before reporting it). */
async function gdcmanon(input: string, sync: boolean): Promise<Sample> {
  const out = join(work, "out-gdcm");
  await rm(out, { recursive: true, force: true });
  await mkdir(out);
  const s = await timed("sh", [
    "-c",
    `gdcmanon -e -c "$1" -r --continue -i "$2" -o "$3"${sync ? " && sync" : ""}`,
    "sh",
    cert,
    input,
    out,
  ]);
  await rm(out, { recursive: true, force: true });
  return s;
}

console.log(`start: ${uptime()}`);
const runs: Record<string, Sample[]> = {
  a: [],
  af: [],
  a1: [],
  ar: [],
  b: [],
  bs: [],
  o: [],
  of: [],
};
for (let i = 0; i < RUNS; i++) {
  runs.a!.push(await dcmanon(set, FILES));
  runs.ar!.push(await dcmanon(set, FILES, ["--redact", banner, "--clean-pixel-data"]));
  runs.b!.push(await gdcmanon(set, false));
  if (BASE) runs.o!.push(await dcmanon(set, FILES, [], baseArgs));
  runs.af!.push(await dcmanon(set, FILES, ["--fsync"]));
  runs.bs!.push(await gdcmanon(set, true));
  if (BASE) runs.of!.push(await dcmanon(set, FILES, ["--fsync"], baseArgs));
  runs.a1!.push(await dcmanon(set, FILES, [], nodeArgs, "1"));
}
for (const s of Object.values(runs).flat())
  if (s.code !== 0) throw new Error(`a benchmarked command exited ${s.code}`);
const wall = (k: string) => median(runs[k]!.map((s) => s.wall));
const rss = (k: string) => median(runs[k]!.map((s) => s.rssMb));
const cpu = (k: string) => median(runs[k]!.map((s) => s.cpu ?? 0));
const a = runs.a!;
const w = [40, 10, 10, 10, 10];
console.log(
  `${FILES} CT images 512×512 (${(template.dataset.get(0x7fe00010)?.value?.length ?? 0) / 1024} KB pixel data each), ${ts}, median of ${RUNS} runs (round robin)`,
);
console.log(row(["", "wall s", "files/s", "CPU s", "RSS MB"], w));
const rows: Array<[string, string]> = [
  ["a", "dcmanon -j 2 (Basic Profile + scan)"],
  ["b", "gdcmanon -e (Basic Profile)"],
  ["af", "dcmanon -j 2 --fsync"],
  ["bs", "gdcmanon -e, then sync"],
  ["a1", "dcmanon -j 1"],
  ["ar", "dcmanon -j 2 --clean-pixel-data --redact"],
];
if (BASE) rows.push(["o", "base: dcmanon -j 2 (BENCH_BASE)"], ["of", "base: dcmanon -j 2 --fsync"]);
for (const [k, label] of rows)
  console.log(
    row(
      [
        label,
        wall(k).toFixed(2),
        (FILES / wall(k)).toFixed(0),
        cpu(k).toFixed(2),
        rss(k).toFixed(0),
      ],
      w,
    ),
  );
console.log(
  `dcmanon / gdcmanon files/s: ${(wall("b") / wall("a")).toFixed(2)}× (without fsync), ${(wall("bs") / wall("af")).toFixed(2)}× (durable: --fsync vs gdcmanon + sync)`,
);
if (BASE)
  console.log(
    `dcmanon / base dcmanon files/s: ${(wall("o") / wall("a")).toFixed(2)}× (without fsync), ${(wall("of") / wall("af")).toFixed(2)}× (--fsync); CPU ${(cpu("o") / cpu("a")).toFixed(2)}× less`,
  );
console.log(
  `end: ${uptime()} on ${availableParallelism()} cores (wall times are noisy on a shared machine; CPU is user + system)`,
);
console.log(
  "Not the same work. gdcmanon -e: GDCM's own Basic Profile list (not Table E.1-1 2026d) at the top level, the originals encrypted into (0400,0500) with the certificate, new UIDs held in memory for the run; private attributes and attributes inside sequences kept, no date shift, no residual-identifier scan, no result records, each output written under its final name (no temporary file and rename).",
);
console.log(
  "dcmanon: Table E.1-1 2026d at every depth, private attributes removed, keyed UIDs and pseudonym, the residual scan of every value written, one NDJSON result per file, temporary file + rename.",
);

if (LARGE > FILES) {
  const big = join(work, "ct-large");
  await makeSet(big, LARGE);
  await rm(set, { recursive: true, force: true });
  const l = await dcmanon(big, LARGE);
  if (l.code !== 0) throw new Error(`dcmanon exited ${l.code} on ${LARGE} files`);
  console.log(
    `dcmanon -j 2 peak RSS: ${median(a.map((s) => s.rssMb)).toFixed(0)} MB at ${FILES} files, ${l.rssMb.toFixed(0)} MB at ${LARGE} files (${(LARGE / l.wall).toFixed(0)} files/s)`,
  );
}
await rm(work, { recursive: true, force: true });
