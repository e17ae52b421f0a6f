/**
 * movescu-ts / getscu-ts as commands: help, version, usage errors and
 * DCMTK movescu's exit codes (dcmtk-cli.md §4) for output directory,
 * listen port and association failures.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { binPath, type RunResult, runBin, runMain } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";
import { busyPort, freePort } from "@dicom-pipes/test-support/peers";

/** movescu-ts or getscu-ts as main() in process (the spawn tests keep the bins covered). */
const inProcess = (tool: "movescu-ts" | "getscu-ts", args: string[], o: { input?: string } = {}) =>
  runMain((argv, io) => main(argv, io, tool), args, o);

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

let dir: string;
let pacs: DevPacs;
let strict: DevPacs;
let study: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-bin-"));
  await generateArchive({
    out: join(dir, "archive"),
    patients: 1,
    seed: "bin",
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 2,
    rows: 8,
    cols: 8,
  });
  pacs = await startDevPacs({ dir: join(dir, "archive") });
  strict = await startDevPacs({
    dir: join(dir, "archive"),
    aet: "STRICTPACS",
    strictCalledAet: true,
  });
  study = [...pacs.archive.instances.values()][0]!.studyUid;
});

after(async () => {
  await pacs?.close();
  await strict?.close();
  await rm(dir, { recursive: true, force: true });
});

const studyKeys = () => ["-k", "QueryRetrieveLevel=STUDY", "-k", `StudyInstanceUID=${study}`];

for (const tool of ["movescu-ts", "getscu-ts"] as const) {
  test(`${tool} --help prints the help on stdout and exits 0`, async () => {
    const r = await runBin(tool, ["--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.match(
      r.stdout,
      new RegExp(`^${tool}: DICOM retrieve \\(${tool === "getscu-ts" ? "C-GET" : "C-MOVE"}\\) SCU`),
    );
    assert.match(r.stdout, new RegExp(`usage: ${tool} \\[options\\] peer port`));
    for (const flag of [
      "-aet",
      "-aec",
      "-k",
      "-S",
      "-P",
      "-od",
      "--layout",
      "--info",
      "--input",
      "-j",
      "--throttle",
      "--batch-size",
      "--batch-wait",
      "--window",
      "--tz",
      "--journal",
      "--emit",
      "Exit status",
    ]) {
      assert.ok(r.stdout.includes(flag), `${tool} help mentions ${flag}`);
    }
    for (const flag of ["-aem", "--port", "--get"])
      assert.equal(
        r.stdout.includes(flag),
        tool === "movescu-ts",
        `${flag} only in movescu-ts's help`,
      );
  });

  test(`${tool} --version prints the package version`, async () => {
    const r = await runBin(tool, ["--version"]);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith(`${tool} ${pkg.version} (dicom-pipes; `), r.stdout);
  });

  test(`${tool}: an unknown option is a usage error (exit 2)`, async () => {
    const r = await inProcess(tool, ["--no-such-option", "127.0.0.1", "104", ...studyKeys()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option --no-such-option/);
    assert.equal(r.stdout, "");
  });
}

test("a bad -k key is a usage error (exit 2), nothing is sent", async () => {
  for (const k of ["NoSuchKeyword=1", "patientid=X", "PatientID = X"]) {
    const r = await inProcess("movescu-ts", ["-S", "127.0.0.1", String(pacs.port), "-k", k]);
    assert.equal(r.code, 2, k);
    assert.match(r.stderr, /bad key format or dictionary name not found in dictionary/);
  }
});

test("missing peer or port, or a bad port, is a usage error", async () => {
  let r = await inProcess("movescu-ts", ["-S", ...studyKeys()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Missing parameter peer/);
  r = await inProcess("movescu-ts", ["-S", "127.0.0.1", ...studyKeys()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Missing parameter port/);
  r = await inProcess("getscu-ts", ["-S", "127.0.0.1", "notaport", ...studyKeys()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid parameter value notaport/);
});

test("a bad --level is a usage error", async () => {
  const od = await mkdtemp(join(dir, "level-"));
  const r = await inProcess(
    "movescu-ts",
    ["-S", "--level", "FRAME", "-od", od, "127.0.0.1", String(pacs.port)],
    { input: "{}\n" },
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid parameter value FRAME for option --level/);
});

test("a bad --window or --tz is a usage error", async () => {
  const od = await mkdtemp(join(dir, "window-"));
  for (const w of ["25:00-07:00", "7-8", "19:00", "19:60-20:00"]) {
    const r = await inProcess(
      "movescu-ts",
      ["-S", "--window", w, "-od", od, "127.0.0.1", String(pacs.port)],
      { input: `{"StudyInstanceUID":"${study}"}\n` },
    );
    assert.equal(r.code, 2, w);
    assert.match(r.stderr, /Invalid parameter value .* for option --window/, w);
  }
  const r = await inProcess(
    "movescu-ts",
    [
      "-S",
      "--window",
      "19:00-07:00",
      "--tz",
      "Mars/Olympus",
      "-od",
      od,
      "127.0.0.1",
      String(pacs.port),
    ],
    { input: `{"StudyInstanceUID":"${study}"}\n` },
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /for option --tz/);
  assert.deepEqual(await readdir(od), [], "nothing written");
});

test("-od that does not exist exits 45 (DCMTK movescu) before connecting", async () => {
  for (const [tool, extra] of [
    ["movescu-ts", ["+P", "0"]],
    ["getscu-ts", []],
    ["movescu-ts", ["--get"]],
  ] as const) {
    const r = await inProcess(tool, [
      "-S",
      ...extra,
      "-od",
      join(dir, "missing", "sub"),
      "127.0.0.1",
      String(pacs.port),
      ...studyKeys(),
    ]);
    assert.equal(r.code, 45, `${tool} ${extra.join(" ")}`);
    assert.match(r.stderr, /specified output directory does not exist/);
  }
});

test("--input that is missing or a directory: exit 2, the path named, nothing retrieved", async () => {
  for (const [input, want] of [
    [join(dir, "nope.ndjson"), /nope\.ndjson: no such file/],
    [dir, /: is a directory, expected a file of records/],
  ] as const) {
    const r = await inProcess("movescu-ts", [
      "-S",
      "--input",
      input,
      "127.0.0.1",
      String(pacs.port),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, want);
    assert.equal(r.stdout, "");
  }
});

/** movescu-ts -od (a fresh directory) with +P on a port another listener holds. */
async function moveWithBusyPort(): Promise<{ r: RunResult; od: string }> {
  const busy = await busyPort();
  try {
    const od = await mkdtemp(join(dir, "busy-"));
    const r = await inProcess("movescu-ts", [
      "-S",
      "+P",
      String(busy.port),
      "-od",
      od,
      "127.0.0.1",
      String(pacs.port),
      ...studyKeys(),
    ]);
    return { r, od };
  } finally {
    await busy.close();
  }
}

test("+P on a port in use exits 60 with DCMTK's message", async () => {
  const { r } = await moveWithBusyPort();
  assert.equal(r.code, 60, r.stderr);
  assert.match(
    r.stderr,
    /cannot create network: 0006:031c TCP Initialization Error: Address already in use/,
  );
});

test("+P on a port in use leaves nothing behind in -od", async () => {
  const { r, od } = await moveWithBusyPort();
  assert.equal(r.code, 60, r.stderr);
  assert.deepEqual(await readdir(od), [], "nothing written");
});

test("connection refused exits 61 (C-MOVE and C-GET)", async () => {
  const port = await freePort();
  for (const [tool, extra] of [
    ["movescu-ts", []],
    ["getscu-ts", []],
  ] as const) {
    const od = await mkdtemp(join(dir, "refused-"));
    const r = await runBin(tool, [
      "-S",
      ...extra,
      "-od",
      od,
      "127.0.0.1",
      String(port),
      ...studyKeys(),
    ]);
    assert.equal(r.code, 61, `${tool}: ${r.stderr}`);
    assert.match(r.stderr, /Association Request Failed/);
    assert.match(r.stderr, /Connection refused/);
    assert.deepEqual(await readdir(od), [], "nothing left in -od");
  }
});

test("an association rejected by the archive (wrong called AE) exits 61", async () => {
  const od = await mkdtemp(join(dir, "rejected-"));
  for (const tool of ["movescu-ts", "getscu-ts"] as const) {
    const r = await inProcess(tool, [
      "-S",
      "-aec",
      "WRONGAE",
      "-od",
      od,
      "127.0.0.1",
      String(strict.port),
      ...studyKeys(),
    ]);
    assert.equal(r.code, 61, `${tool}: ${r.stderr}`);
    assert.match(r.stderr, /Association Rejected/);
  }
  // The right called AE is accepted by the same archive.
  const ok = await inProcess("getscu-ts", [
    "-S",
    "-aec",
    "STRICTPACS",
    "-od",
    od,
    "127.0.0.1",
    String(strict.port),
    ...studyKeys(),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});

test("a retrieve with -k keys makes no process.stdin (Node makes it on first use, a few ms of every start)", async () => {
  // The bin under a probe that reports whether process.stdin was asked for.
  const probe = [
    "let touched = false;",
    "const d = Object.getOwnPropertyDescriptor(process, 'stdin');",
    "Object.defineProperty(process, 'stdin', { configurable: true, get() { touched = true; return d.get.call(process); } });",
    "process.on('exit', () => require('node:fs').writeSync(2, '\\n' + JSON.stringify({ touched })));",
    "require(process.argv[1]);",
  ].join("\n");
  const od = await mkdtemp(join(dir, "nostdin-"));
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "-e",
        probe,
        "--",
        binPath("getscu-ts"),
        "-S",
        "-od",
        od,
        "127.0.0.1",
        String(pacs.port),
        ...studyKeys(),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.setEncoding("latin1").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);
  const received = (await readdir(od)).filter((f) => !f.startsWith("."));
  assert.equal(received.length, 2, `received: ${received.join(" ")}`);
  assert.match(r.stderr, /\{"touched":false\}$/, "process.stdin was made");
});
