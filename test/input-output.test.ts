/**
 * Input, output locations, signals and help across the tools, through the
 * real executables: ragged CSV rows and over-long lines are exit 2 naming
 * the line (never a hang), a column no record has is exit 2 naming it, an
 * unusable output location is exit 45 at once, SIGTERM ends a stuck tool,
 * log lines never run into the progress line, and --help lists only the
 * exit statuses a tool can return.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { binPath, ndjson, runBin } from "@dicom-pipes/test-support/bins";

let dir: string;
let pacs: DevPacs;
/** A port where nothing listens. */
let closedPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "input-output-"));
  await generateArchive({
    out: join(dir, "archive"),
    patients: 2,
    seed: "io",
    studiesPerPatient: [1, 1],
    seriesPerStudy: [1, 1],
    instancesPerSeries: [1, 1],
  });
  pacs = await startDevPacs({ dir: join(dir, "archive") });
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  closedPort = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
});

after(async () => {
  await pacs?.close();
  rmSync(dir, { recursive: true, force: true });
});

const T = { timeoutMs: 30000 };
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// ---------------------------------------------------------------- ragged CSV

test("ragged CSV: every tool that reads CSV exits 2 naming file, line and column, without hanging", async () => {
  const r = file("r.csv", "PatientID,StudyDate\nDP000001\nDP000002\n");
  const one = file("r1.csv", "PatientID,StudyDate\nDP000001\n");
  const out = join(dir, "wp-ragged");
  const runs: Array<[string, string[]]> = [
    [
      "findscu-ts",
      [
        "-S",
        "-aec",
        "DEVPACS",
        "127.0.0.1",
        String(pacs.port),
        "--queries",
        r,
        "-k",
        "StudyInstanceUID",
      ],
    ],
    [
      "movescu-ts",
      ["-S", "-aec", "DEVPACS", "--no-journal", "--input", r, "127.0.0.1", String(pacs.port)],
    ],
    ["inst-count", ["-t", "all", r]],
    ["weekday-plot", ["-t", "all", "-o", out, r]],
    ["inst-count", ["-t", "all", one]],
  ];
  for (const [tool, args] of runs) {
    const res = await runBin(tool, args, T);
    assert.equal(res.code, 2, `${tool} ${args.join(" ")}: ${res.stderr}`);
    assert.match(res.stderr, /^E: [a-z-]+: \S*r1?\.csv:2: no value for column StudyDate /m, tool);
    assert.equal(res.stdout, "", tool);
  }
});

test("ragged CSV with --keep-going: the short rows are skipped and named, the others run (exit 3)", async () => {
  const uid = [...pacs.archive.instances.values()][0]!.studyUid;
  const r = file("mixed.csv", `StudyInstanceUID,StudyDate\n${uid},\nDP000002\n`);
  const res = await runBin(
    "findscu-ts",
    [
      "-S",
      "-aec",
      "DEVPACS",
      "127.0.0.1",
      String(pacs.port),
      "--keep-going",
      "--queries",
      r,
      "-k",
      "QueryRetrieveLevel=STUDY",
      "-k",
      "PatientID",
    ],
    T,
  );
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, /mixed\.csv:3: no value for column StudyDate .*\(skipped\)/);
  assert.deepEqual(
    ndjson(res.stdout).map((x) => x.StudyInstanceUID),
    [uid],
  );
});

// ---------------------------------------------------------------- long lines

test("a line over the maximum length is exit 2 naming it, in every line reader", async () => {
  const env = { DICOM_PIPES_MAX_LINE: "1000" };
  const long = `{"StudyDate":"20240101","InstitutionName":"${"x".repeat(2000)}"}\n`;
  const input = `{"StudyDate":"20240101","InstitutionName":"A"}\n${long}`;
  let r = await runBin("inst-count", ["-t", "all"], { ...T, env, input });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^E: inst-count: stdin:2: line longer than 1000 bytes/);
  r = await runBin("storescu-ts", ["-aec", "X", "127.0.0.1", String(closedPort), "-"], {
    ...T,
    env,
    input: `a.dcm\n${"p".repeat(1500)}\n`,
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /stdin:2: line longer than 1000 bytes/);
  // a line just under the maximum is fine
  r = await runBin("inst-count", ["-t", "all", "--format", "ndjson"], {
    ...T,
    env,
    input: `{"StudyDate":"20240101","InstitutionName":"${"y".repeat(900)}"}\n`,
  });
  assert.equal(r.code, 0, r.stderr);
});

test("findscu-ts reads its first query before associating: bad input opens no connection", async () => {
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = String((server.address() as { port: number }).port);
  try {
    const bad = file("bad.ndjson", '{"PatientID":\n');
    const r = await runBin(
      "findscu-ts",
      ["-S", "-ta", "5", "127.0.0.1", port, "--queries", bad, "-k", "StudyInstanceUID"],
      T,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bad\.ndjson:1: invalid JSON/);
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
});

// ---------------------------------------------------------------- missing columns

test("inst-count and weekday-plot: a grouping or date column no record has is exit 2 naming it, with a suggestion", async () => {
  let r = await runBin(
    "inst-count",
    ["-t", "all", file("noinst.csv", "PatientID,StudyDate\nDP1,20240101\n")],
    T,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /noinst\.csv: no record has InstitutionName/);
  assert.equal(r.stdout, "");
  r = await runBin("inst-count", ["-t", "all"], {
    ...T,
    input: '{"Institution":"A","StudyDate":"20240101"}\n',
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no record has InstitutionName \(did you mean "Institution"\?\)/);
  r = await runBin("inst-count", ["--by", "Modality", "-t", "all"], {
    ...T,
    input: '{"modality":"CT"}\n',
  });
  assert.match(r.stderr, /no record has Modality \(did you mean "modality"\?\)/);
  r = await runBin("weekday-plot", ["-t", "all", "-o", join(dir, "wp-nocol")], {
    ...T,
    input: '{"StudyDate":"20240101","StudyInstanceUID":"1.2"}\n',
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no record has StudyTime/);
  assert.doesNotMatch(
    r.stderr,
    /did you mean "StudyDate"/,
    "another attribute is not a misspelling",
  );
  // some records without the column are counted as Unknown, as before
  r = await runBin("inst-count", ["-t", "all"], {
    ...T,
    input:
      '{"StudyDate":"20240101","StudyInstanceUID":"1"}\n{"StudyDate":"20240101","StudyInstanceUID":"2","InstitutionName":"A"}\n',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Unknown\t1$/m);
});

// ---------------------------------------------------------------- output locations

test("an unusable output location is exit 45 at once, in every tool that writes files", async () => {
  const missing = join(dir, "no-such-dir");
  const plain = file("plain-file", "");
  const proc = process.platform === "linux" && existsSync("/proc/1") ? "/proc/1" : undefined;
  const keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.3"];
  const peer = ["127.0.0.1", String(closedPort)];
  const cases: Array<[string, (od: string) => string[]]> = [
    ["movescu-ts", (od) => ["-S", "+P", "0", "-od", od, ...keys, ...peer]],
    ["movescu-ts", (od) => ["-S", "+P", "0", "--info", "-od", od, ...keys, ...peer]],
    ["getscu-ts", (od) => ["-S", "-od", od, ...keys, ...peer]],
    ["findscu-ts", (od) => ["-S", "-X", "-od", od, "-k", "QueryRetrieveLevel=STUDY", ...peer]],
    ["storescp-ts", (od) => ["-od", od, "0"]],
    [
      "weekday-plot",
      (od) => [
        "-t",
        "all",
        "-o",
        join(od, "wp"),
        file("wp.ndjson", '{"StudyDate":"20240101","StudyTime":"100000"}\n'),
      ],
    ],
    [
      "weekday-plot",
      (od) => [
        "-t",
        "all",
        "-o",
        join(dir, "wp-top"),
        "--top10-output",
        join(od, "top10.csv"),
        file("wp.ndjson", '{"StudyDate":"20240101","StudyTime":"100000"}\n'),
      ],
    ],
    ["dumps-move", (od) => ["-D", join(dir, "archive"), "-I", join(od, "info")]],
  ];
  const locations = [missing, plain, ...(proc ? [proc] : [])];
  // Not writable for a user that is not root (root writes anyway).
  const ro = join(dir, "read-only");
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  if (process.getuid?.() !== 0) locations.push(ro);
  for (const [tool, args] of cases) {
    for (const od of locations) {
      // weekday-plot and dumps-move create their folder: a missing parent is made, not an error.
      if (od === missing && (tool === "weekday-plot" || tool === "dumps-move")) continue;
      const t0 = Date.now();
      const r = await runBin(tool, args(od), { timeoutMs: 20000 });
      assert.equal(r.code, 45, `${tool} ${od}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^E: [a-z-]+: .*(output directory|output folder|info folder|folder of --top10-output)/m,
        `${tool} ${od}`,
      );
      assert.ok(Date.now() - t0 < 15000, `${tool} ${od} took ${Date.now() - t0} ms`);
    }
  }
});

// ---------------------------------------------------------------- signals

test("the first SIGTERM ends a tool stuck waiting on its input (exit 143 after the grace period)", {
  skip: spawnSync("mkfifo", ["--version"]).status !== 0 && "no mkfifo",
}, async () => {
  const fifo = join(dir, "records.fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  const child = spawn(process.execPath, [binPath("inst-count"), "-t", "all", fifo], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Ended by the signal itself (a shell sees 143) or exiting 143.
  const exited = new Promise<string>((r) =>
    child.on("exit", (code, signal) =>
      r(code === 143 || signal === "SIGTERM" ? "143" : `code ${code}, signal ${signal}`),
    ),
  );
  // Opening the FIFO for writing completes once the tool has opened it: it is running, waiting for records.
  const writer = await open(fifo, "w");
  try {
    child.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r("still running"), 15000)),
    ]);
    assert.equal(code, "143");
  } finally {
    child.kill("SIGKILL");
    await writer.close();
  }
});

// ---------------------------------------------------------------- progress line

test("under a terminal, error lines start on their own line, not after the progress text", {
  skip: spawnSync("script", ["--version"]).status !== 0 && "no script(1)",
}, () => {
  const root = join(dir, "dm");
  mkdirSync(join(root, "data/sub-01/ses-1"), { recursive: true });
  mkdirSync(join(root, "info/sub-01/ses-1"), { recursive: true });
  for (const n of ["a", "b", "c"]) {
    writeFileSync(join(root, `data/sub-01/ses-1/${n}.csv`), `data ${n}\n`);
    // present in INFO with other content: refused without --force, an error per file
    writeFileSync(join(root, `info/sub-01/ses-1/${n}.csv`), `other ${n}\n`);
  }
  const cmd = `"${process.execPath}" "${binPath("dumps-move")}" -D data -I info`;
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
  delete env.CI;
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    cwd: root,
    env,
    encoding: "latin1",
    timeout: 30000,
  });
  assert.equal(r.status, 3, r.stdout);
  assert.match(r.stdout, /1\/3 sub-01/, "the progress line is shown");
  const errors = [...r.stdout.matchAll(/E: dumps-move: /g)];
  assert.equal(errors.length, 3, r.stdout);
  for (const m of errors) {
    const before = r.stdout.slice(Math.max(0, m.index! - 3), m.index);
    assert.ok(
      m.index === 0 || before.endsWith("\n") || before.endsWith("\x1b[K"),
      `error line after ${JSON.stringify(r.stdout.slice(Math.max(0, m.index! - 30), m.index! + 20))}`,
    );
  }
});

// ---------------------------------------------------------------- help

test("--help lists only the exit statuses each tool can return, and only what it does", async () => {
  const expected: Record<string, number[]> = {
    "inst-count": [0, 1, 2, 130],
    "weekday-plot": [0, 1, 2, 45, 130],
    "dumps-move": [0, 1, 2, 3, 45, 130],
    "findscu-ts": [0, 1, 2, 3, 45, 61, 130],
    "movescu-ts": [0, 1, 2, 45, 60, 61, 68, 69, 130],
    "getscu-ts": [0, 1, 2, 45, 61, 68, 69, 130],
    "storescu-ts": [0, 1, 2, 3, 10, 61, 130],
    "storescp-ts": [0, 1, 2, 45, 60, 130],
    "echoscu-ts": [0, 1, 2, 61, 130],
  };
  for (const [tool, codes] of Object.entries(expected)) {
    const r = await runBin(tool, ["--help"], T);
    assert.equal(r.code, 0, tool);
    const table = r.stdout.slice(r.stdout.indexOf("Exit status:"));
    const listed = [...table.matchAll(/^ {2}(\d+) /gm)].map((m) => Number(m[1]));
    assert.deepEqual(listed, codes, tool);
    assert.match(table, /130 {2}interrupted \(SIGINT\), 143 terminated \(SIGTERM\)/, tool);
  }
  const dm = await runBin("dumps-move", ["--help"], T);
  assert.doesNotMatch(dm.stdout, /on stdin/);
  const get = await runBin("getscu-ts", ["--help"], T);
  assert.doesNotMatch(get.stdout, /\+P|port busy/);
});
