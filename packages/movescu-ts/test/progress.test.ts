/**
 * The progress line and the summary of movescu-ts as a user sees them: a
 * batch of series C-MOVEs from the dev PACS under a pseudo-terminal
 * (script(1)), and the same run with stderr a pipe.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { binPath, runBin } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";

const SERIES = 6;
const PER_SERIES = 3;
const noScript = spawnSync("script", ["--version"]).status !== 0 && "no script(1) (util-linux)";

let dir: string;
let pacs: DevPacs;
let port: number;
let input: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-progress-"));
  const archive = join(dir, "archive");
  await generateArchive({
    out: archive,
    patients: 2,
    seed: "progress",
    studiesPerPatient: 1,
    seriesPerStudy: SERIES / 2,
    instancesPerSeries: PER_SERIES,
    rows: 16,
    cols: 16,
  });
  port = await freePort();
  pacs = await startDevPacs({
    dir: archive,
    moveDestinations: { MOVESCU: { host: "127.0.0.1", port } },
  });
  const series = new Map<string, string>();
  for (const i of pacs.archive.instances.values()) series.set(i.seriesUid, i.studyUid);
  assert.equal(series.size, SERIES);
  input = join(dir, "series.ndjson");
  await writeFile(
    input,
    `${[...series]
      .map(([se, st]) =>
        JSON.stringify({
          QueryRetrieveLevel: "SERIES",
          StudyInstanceUID: st,
          SeriesInstanceUID: se,
        }),
      )
      .join("\n")}\n`,
  );
});

after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const args = (od: string) => [
  "-S",
  "-aec",
  "DEVPACS",
  "+P",
  String(port),
  "-od",
  od,
  "--throttle",
  "0.25",
  "--input",
  input,
  "--no-output",
  "127.0.0.1",
  String(pacs.port),
];

test("under a terminal: done/total, percent, objects, rate and ETA, then a summary line", {
  skip: noScript,
}, async () => {
  const od = await mkdtemp(join(dir, "tty-"));
  const cmd = [process.execPath, binPath("movescu-ts"), ...args(od)].map((a) => `'${a}'`).join(" ");
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
  delete env.CI;
  // Not spawnSync: the dev PACS answers from this process.
  const child = spawn("script", ["-qec", cmd, "/dev/null"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const r = { status, stdout: out };
  assert.equal(r.status, 0, r.stdout);
  // Each redraw starts with CR and erase-line.
  const lines = r.stdout
    .split("\r\x1b[K")
    .map((l) => l.trim())
    .filter(Boolean);
  const progress = lines.filter((l) => /^\d+\/\d+ requests/.test(l));
  assert.ok(progress.length >= 2, `progress redrawn: ${JSON.stringify(lines)}`);
  // The total comes from counting the input file; the ETA appears once a request is done.
  const form = new RegExp(
    `^(\\d+)/${SERIES} requests \\((\\d+)%\\), (\\d+) objects, [\\d.]+ [KM]?B, [\\d.]+ [KM]?B/s(, ETA \\d+s)?$`,
  );
  const seen = progress.map((l) => {
    const m = form.exec(l);
    assert.ok(m, l);
    const done = Number(m[1]);
    assert.equal(Number(m[2]), Math.floor((100 * done) / SERIES), l);
    assert.equal(Boolean(m[4]), done > 0 && done < SERIES, `ETA shown while requests remain: ${l}`);
    return [done, Number(m[3])] as const;
  });
  assert.ok(
    seen.some(([done]) => done > 0 && done < SERIES),
    "a line with an ETA",
  );
  for (let i = 1; i < seen.length; i++)
    assert.ok(
      seen[i]![0] >= seen[i - 1]![0] && seen[i]![1] >= seen[i - 1]![1],
      "counts never go back",
    );
  // At the end the line gives way to the summary, on a line of its own.
  assert.match(
    lines.at(-1)!,
    new RegExp(
      `^I: movescu-ts: ${SERIES} requests in \\d+s, ${SERIES * PER_SERIES} objects, [\\d.]+ [KM]?B, [\\d.]+ [KM]?B/s$`,
    ),
  );
});

test("stderr not a terminal: no progress; the summary at -v only", async () => {
  const quiet = await runBin("movescu-ts", args(await mkdtemp(join(dir, "pipe-"))), {
    timeoutMs: 60000,
  });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, "");
  const verbose = await runBin("movescu-ts", ["-v", ...args(await mkdtemp(join(dir, "pipe-v-")))], {
    timeoutMs: 60000,
  });
  assert.equal(verbose.code, 0, verbose.stderr);
  assert.ok(!verbose.stderr.includes("\r"), "no progress line");
  const last = verbose.stderr.trimEnd().split("\n").at(-1);
  assert.match(
    last!,
    new RegExp(
      `^I: movescu-ts: ${SERIES} requests in \\d+s, ${SERIES * PER_SERIES} objects, [\\d.]+ [KM]?B, [\\d.]+ [KM]?B/s$`,
    ),
  );
});
