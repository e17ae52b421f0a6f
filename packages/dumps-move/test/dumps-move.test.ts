// dumps-move as a command, on PACSIFIER-style trees built in temp folders.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";

const FILES: Record<string, string> = {
  "mapper.json": '{"000001":"12345"}\n',
  "sub-01/ses-20240101101500/00001-T1.csv": "StudyDate,StudyTime\r\n20240101,101500\r\n",
  "sub-01/ses-20240101101500/00001-T1/MR.1.2.3": "DICM",
  "sub-01/ses-20240101101500/00002-T2.csv": "StudyDate\r\n20240101\r\n",
  "sub-02/ses-20240202/00003-CT.csv": "x\r\n",
  "sub-02/ses-20240202/00003-CT/CT.1.2.4": "DICM",
  "sub-02/notes.csv": "not a series dump\n", // not at the ses level: stays, as in the seed
  "logs/pacsifier_log.csv": "log\n",
};
const DUMPS = [
  "mapper.json",
  "sub-01/ses-20240101101500/00001-T1.csv",
  "sub-01/ses-20240101101500/00002-T2.csv",
  "sub-02/ses-20240202/00003-CT.csv",
];

function tree(files = FILES): string {
  const root = mkdtempSync(join(tmpdir(), "dumps-move-"));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, "data", rel)), { recursive: true });
    writeFileSync(join(root, "data", rel), text);
  }
  return root;
}

test("moves sub-*/ses-*/*.csv and mapper.json into a new INFO folder, preserving paths, one record per file", async () => {
  const root = tree();
  const r = await runBin("dumps-move", ["--data-folder", "data", "--info-folder", "out/info"], {
    cwd: root,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.deepEqual(
    ndjson(r.stdout),
    DUMPS.map((rel) => ({
      action: "moved",
      from: join("data", rel),
      to: join("out/info", rel),
      bytes: Buffer.byteLength(FILES[rel]!),
    })),
  );
  for (const rel of DUMPS) {
    assert.equal(existsSync(join(root, "data", rel)), false, rel);
    assert.equal(readFileSync(join(root, "out/info", rel), "utf8"), FILES[rel]);
  }
  for (const rel of Object.keys(FILES).filter((f) => !DUMPS.includes(f)))
    assert.ok(existsSync(join(root, "data", rel)), rel);
});

test("--dry-run moves nothing; the seed's underscore spellings work", async () => {
  const root = tree();
  const r = await runBin(
    "dumps-move",
    ["--data_folder", "data", "--info_folder", "info", "--dry-run"],
    { cwd: root },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => [x.action, x.from]),
    DUMPS.map((rel) => ["would-move", join("data", rel)]),
  );
  assert.equal(existsSync(join(root, "info")), false);
  for (const rel of DUMPS) assert.ok(existsSync(join(root, "data", rel)));
});

test("never overwrites a different file without --force (exit 3); --force replaces it", async () => {
  const root = tree();
  const clash = "sub-01/ses-20240101101500/00001-T1.csv";
  mkdirSync(dirname(join(root, "info", clash)), { recursive: true });
  writeFileSync(join(root, "info", clash), "older dump\n");
  let r = await runBin("dumps-move", ["-D", "data", "-I", "info"], { cwd: root });
  assert.equal(r.code, 3);
  assert.match(
    r.stderr,
    /E: dumps-move: sub-01\/ses-20240101101500\/00001-T1\.csv: destination exists with different content \(use --force to overwrite\)/,
  );
  const recs = ndjson(r.stdout);
  assert.deepEqual(
    recs.find((x) => x.action === "skipped"),
    {
      action: "skipped",
      from: join("data", clash),
      to: join("info", clash),
      error: "destination exists with different content (use --force to overwrite)",
    },
  );
  assert.equal(recs.filter((x) => x.action === "moved").length, 3);
  assert.equal(readFileSync(join(root, "info", clash), "utf8"), "older dump\n");
  assert.ok(existsSync(join(root, "data", clash)));
  r = await runBin("dumps-move", ["-D", "data", "-I", "info", "--force"], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(ndjson(r.stdout), [
    {
      action: "replaced",
      from: join("data", clash),
      to: join("info", clash),
      bytes: Buffer.byteLength(FILES[clash]!),
    },
  ]);
  assert.equal(readFileSync(join(root, "info", clash), "utf8"), FILES[clash]);
});

test("resumable: a rerun after an interruption finishes without loss or duplicates", async () => {
  const root = tree();
  // State left by a run stopped after copying one file but before removing its source,
  // with a stale temporary file of the next one.
  const done = "sub-01/ses-20240101101500/00001-T1.csv";
  const half = "sub-02/ses-20240202/00003-CT.csv";
  mkdirSync(dirname(join(root, "info", done)), { recursive: true });
  writeFileSync(join(root, "info", done), FILES[done]!);
  mkdirSync(dirname(join(root, "info", half)), { recursive: true });
  writeFileSync(join(root, "info", "sub-02/ses-20240202/.00003-CT.csv.dumps-move.tmp"), "partial");
  const r = await runBin("dumps-move", ["-D", "data", "-I", "info", "-v"], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => x.action),
    ["moved", "completed", "moved", "moved"],
  );
  for (const rel of DUMPS) {
    assert.equal(readFileSync(join(root, "info", rel), "utf8"), FILES[rel]);
    assert.equal(existsSync(join(root, "data", rel)), false);
  }
  // A second rerun has nothing left to do.
  const again = await runBin("dumps-move", ["-D", "data", "-I", "info"], { cwd: root });
  assert.equal(again.code, 0);
  assert.equal(again.stdout, "");
  assert.match(again.stderr, /W: dumps-move: no files match/);
});

test("--pattern selects other files (** for any depth, repeatable)", async () => {
  const root = tree();
  const r = await runBin(
    "dumps-move",
    ["-D", "data", "-I", "info", "--pattern", "**/*.csv", "--pattern", "sub-*/ses-*/*/MR.*"],
    { cwd: root },
  );
  assert.equal(r.code, 0, r.stderr);
  const moved = ndjson(r.stdout).map((x) => relative("data", x.from as string));
  assert.deepEqual(moved, [
    "logs/pacsifier_log.csv",
    "sub-01/ses-20240101101500/00001-T1.csv",
    "sub-01/ses-20240101101500/00001-T1/MR.1.2.3",
    "sub-01/ses-20240101101500/00002-T2.csv",
    "sub-02/notes.csv",
    "sub-02/ses-20240202/00003-CT.csv",
  ]);
  assert.ok(existsSync(join(root, "data", "mapper.json")));
});

test("across filesystems (tmpfs): copy, fsync, rename, unlink", async (t) => {
  if (!existsSync("/dev/shm") || statSync("/dev/shm").dev === statSync(tmpdir()).dev)
    return t.skip("no second filesystem");
  const root = tree();
  const info = mkdtempSync("/dev/shm/dumps-move-info-");
  const r = await runBin("dumps-move", ["-D", join(root, "data"), "-I", info]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ndjson(r.stdout).length, 4);
  for (const rel of DUMPS) {
    assert.equal(readFileSync(join(info, rel), "utf8"), FILES[rel]);
    assert.equal(existsSync(join(root, "data", rel)), false);
  }
  assert.equal(existsSync(join(info, "sub-02/ses-20240202/.00003-CT.csv.dumps-move.tmp")), false);
});

test("clear errors: DATA missing, INFO inside DATA, INFO a file, missing options", async () => {
  const root = tree();
  const cases: Array<[string[], RegExp]> = [
    [["-D", "nope", "-I", "info"], /^E: dumps-move: data folder nope does not exist\n$/],
    [["-D", "data", "-I", "data/info"], /the info folder must not be inside the data folder/],
    [["-D", "data", "-I", "data/mapper.json"], /must not be inside/],
    [["-D", "data"], /Missing required argument: info-folder/],
    [
      ["-D", "data", "-I", "info", "--pattern", "../x"],
      /--pattern: pattern "..\/x" must stay inside the data folder/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await runBin("dumps-move", args, { cwd: root });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re, args.join(" "));
  }
  writeFileSync(join(root, "infofile"), "");
  const r = await runBin("dumps-move", ["-D", "data", "-I", "infofile"], { cwd: root });
  assert.equal(r.code, 45);
  assert.match(r.stderr, /info folder infofile exists and is not a directory/);
});

test("--help and --version", async () => {
  let r = await runBin("dumps-move", ["--help"]);
  assert.equal(r.code, 0);
  for (const flag of [
    "--data-folder",
    "--info-folder",
    "--pattern",
    "--force",
    "--dry-run",
    "Exit status",
  ])
    assert.ok(r.stdout.includes(flag), flag);
  r = await runBin("dumps-move", ["--version"]);
  assert.match(
    r.stdout,
    /^dumps-move \d+\.\d+\.\d+ \(dicom-pipes; DICOM dictionary: dcmjs [\d.]+\)\n$/,
  );
});
