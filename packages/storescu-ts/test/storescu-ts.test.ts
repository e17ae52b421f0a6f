/**
 * storescu-ts as a program: command line, inputs (arguments, +sd/+r/+sp,
 * paths on stdin as lines or NDJSON, the NDJSON storescp-ts writes),
 * non-DICOM files, exit codes. No external peers: storescp-ts receives,
 * gen-archive writes the data. Expected values come from the source
 * files, DCMTK's documented behaviour (../shared/reference/dcmtk-cli.md §4,
 * §9) and the package's own manifest.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { encodePart10, Tags, TransferSyntax } from "@dicom-pipes/dimse/dicom";
import {
  CommandField,
  negotiateContexts,
  serve,
  type Association,
  type Message,
} from "@dicom-pipes/dimse/net";
import { binPath, ndjson, runBin, until, runMain, startBin } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";
import { freePort } from "@dicom-pipes/test-support/peers";
import { isListening, startStorescpTs, type ScpTs } from "@dicom-pipes/test-support/corpus";
import { datasetBytes, filesUnder, metaOf } from "@dicom-pipes/test-support/files";

const HOST = "127.0.0.1";
const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

let work: string;
let files: string[];
let scp: ScpTs;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "storescu-ts-bin-"));
  files = [];
  const out = join(work, "src");
  await generateArchive({
    out,
    patients: 3,
    seed: "storescu-ts-bin",
    studiesPerPatient: 1,
    seriesPerStudy: [1, 2],
    instancesPerSeries: 2,
    rows: 16,
    layout: "flat",
    onInstance: (_n, i) => files.push(join(out, ...i.relPath.split("/"))),
  });
  // One receiver for the tests that only look at what storescu-ts reports; stored files are looked up by SOP Instance UID.
  scp = await startStorescpTs(["--layout", "{SOPInstanceUID}.dcm"], {
    od: await mkdtemp(join(work, "od-")),
  });
});

after(async () => {
  await scp?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const uidOf = (p: string) => metaOf(p).sopInstanceUid;

/** The received copy of a source file is complete and identical (dataset bytes). */
function assertReceived(src: string) {
  const got = join(scp.od, `${uidOf(src)}.dcm`);
  assert.ok(datasetBytes(got).equals(datasetBytes(src)), `${src}: received dataset differs`);
}

describe("command line", () => {
  test("--help: usage on stdout, exit 0; no arguments: the same", async () => {
    const r = await runBin("storescu-ts", ["--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /storescu-ts \[options\] peer port \[dcmfile-in\.\.\.\]/);
    assert.match(r.stdout, /DICOM storage \(C-STORE\) SCU/);
    for (const opt of ["-aet", "-aec", "+sd", "+r", "+sp", "-nh", "-j", "--input"])
      assert.ok(r.stdout.includes(opt), `help mentions ${opt}`);
    const none = await runBin("storescu-ts", []);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, r.stdout);
  });

  test("--version: name and the package version", async () => {
    const r = await runBin("storescu-ts", ["--version"]);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith(`storescu-ts ${VERSION} (dicom-pipes; `), r.stdout);
  });

  test("unknown option: exit 2, named on stderr, nothing on stdout", async () => {
    const r = await runMain(main, ["--no-such-option", HOST, String(scp.port), files[0]!]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--no-such-option/);
    assert.equal(r.stdout, "");
  });

  test("missing peer or port, invalid port: exit 2", async () => {
    for (const args of [[HOST], [HOST, "notaport", files[0]!], [HOST, "70000", files[0]!]]) {
      const r = await runMain(main, args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    }
    const bad = await runMain(main, [HOST, "notaport", files[0]!]);
    assert.match(bad.stderr, /Invalid parameter value notaport/);
  });

  test("nobody listening: exit 61 (association failed)", async () => {
    const port = await freePort();
    const r = await runMain(main, [HOST, String(port), files[0]!]);
    assert.equal(r.code, 61, r.stderr);
    assert.match(r.stderr, /Connection refused/);
  });

  test("a file argument that does not exist: exit 1, nothing sent", async () => {
    const r = await runMain(main, [HOST, String(scp.port), join(work, "nope.dcm")]);
    assert.ok(r.code !== 0, r.stderr);
    assert.deepEqual(
      ndjson(r.stdout).filter((x) => x.status === "Success"),
      [],
    );
  });
});

describe("inputs", () => {
  test("file arguments: one Success record per file, in order, datasets received unchanged", async () => {
    const r = await runMain(main, [HOST, String(scp.port), ...files]);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.deepEqual(
      recs.map((x) => x.path),
      files,
    );
    for (const [i, x] of recs.entries()) {
      assert.equal(x.status, "Success");
      assert.equal(x.statusCode, "0x0000");
      assert.equal(x.SOPInstanceUID, uidOf(files[i]!));
      assert.equal(x.SOPClassUID, metaOf(files[i]!).sopClassUid);
      assertReceived(files[i]!);
    }
  });

  test("paths on stdin, one per line (blank lines and CRLF ignored, relative to the working directory)", async () => {
    const rel = files.map((f) => relative(work, f));
    const input = rel.map((p, i) => (i % 2 ? `${p}\r\n` : `${p}\n\n`)).join("");
    const r = await runBin("storescu-ts", [HOST, String(scp.port)], { input, cwd: work });
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.equal(recs.length, files.length);
    assert.deepEqual(
      recs.map((x) => x.status),
      files.map(() => "Success"),
    );
    assert.deepEqual(recs.map((x) => x.SOPInstanceUID).sort(), files.map(uidOf).sort());
  });

  test("paths on stdin as NDJSON records with a path field; `-` and --input FILE too", async () => {
    const input = `${files.map((f) => JSON.stringify({ path: f, other: 1 })).join("\n")}\n`;
    for (const [args, o] of [
      [[HOST, String(scp.port)], { input }],
      [[HOST, String(scp.port), "-"], { input }],
      [["--input", join(work, "list.ndjson"), HOST, String(scp.port)], {}],
    ] as const) {
      await writeFile(join(work, "list.ndjson"), input);
      const r = await runMain(main, [...args], o);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        ndjson(r.stdout).filter((x) => x.status === "Success").length,
        files.length,
        args.join(" "),
      );
    }
  });

  test("an NDJSON record without a path: exit 2 (invalid input)", async () => {
    const r = await runMain(main, [HOST, String(scp.port)], {
      input: `${JSON.stringify({ file: files[0] })}\n`,
    });
    assert.equal(r.code, 2, r.stderr);
  });

  test("storescp-ts | storescu-ts: what one receiver stores is forwarded to another, unchanged", async () => {
    const odA = await mkdtemp(join(work, "fwd-a-"));
    const odB = await mkdtemp(join(work, "fwd-b-"));
    const b = await startStorescpTs([], { od: odB });
    const portA = await freePort();
    const a = spawn(process.execPath, [binPath("storescp-ts"), "-od", odA, String(portA)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const fwd = spawn(process.execPath, [binPath("storescu-ts"), HOST, String(b.port)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    a.stdout.pipe(fwd.stdin);
    const fwdOut: Buffer[] = [];
    const fwdErr: Buffer[] = [];
    fwd.stdout.on("data", (x: Buffer) => fwdOut.push(x));
    fwd.stderr.on("data", (x: Buffer) => fwdErr.push(x));
    const aExit = new Promise<number | null>((res) => a.once("close", (c) => res(c)));
    const fwdExit = new Promise<number | null>((res) => fwd.once("close", (c) => res(c)));
    try {
      await until(() => isListening(portA), 5000, 25);
      const r = await runBin("storescu-ts", [HOST, String(portA), ...files]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      a.kill("SIGTERM");
    }
    assert.equal(await aExit, 0);
    assert.equal(await fwdExit, 0, Buffer.concat(fwdErr).toString());
    const exitB = await b.stop();
    assert.equal(
      ndjson(Buffer.concat(fwdOut).toString()).filter((x) => x.status === "Success").length,
      files.length,
    );
    const stored = await filesUnder(odB);
    assert.equal(stored.length, files.length);
    for (const n of stored) {
      const src = files.find((f) => uidOf(f) === metaOf(join(odB, n)).sopInstanceUid);
      assert.ok(src);
      assert.ok(datasetBytes(join(odB, n)).equals(datasetBytes(src)));
    }
    assert.equal(ndjson(exitB.stdout).length, files.length);
  });

  describe("+sd, +r, +sp (case-sensitive shell pattern)", () => {
    let tree: string;
    const layout = ["a.dcm", "b.DCM", "sub/c.dcm", "sub/deeper/e.dcm", "sub/f1"];
    before(async () => {
      tree = join(work, "tree");
      for (const [i, rel] of layout.entries()) {
        await mkdir(dirname(join(tree, rel)), { recursive: true });
        await copyFile(files[i]!, join(tree, rel));
      }
    });
    const sent = async (args: string[]) => {
      const r = await runBin("storescu-ts", [...args, HOST, String(scp.port), tree]);
      return {
        code: r.code,
        stderr: r.stderr,
        paths: ndjson(r.stdout)
          .filter((x) => x.status === "Success")
          .map((x) => relative(tree, String(x.path)).split("\\").join("/"))
          .sort(),
      };
    };
    const cases: Array<[string[], string[]]> = [
      [["+sd"], ["a.dcm", "b.DCM"]],
      [
        ["+sd", "+r"],
        ["a.dcm", "b.DCM", "sub/c.dcm", "sub/deeper/e.dcm", "sub/f1"],
      ],
      [
        ["+sd", "+r", "+sp", "*.dcm"],
        ["a.dcm", "sub/c.dcm", "sub/deeper/e.dcm"],
      ],
      [["+sd", "+sp", "*.DCM"], ["b.DCM"]],
      [
        ["+sd", "+r", "+sp", "[a-c]*"],
        ["a.dcm", "b.DCM", "sub/c.dcm"],
      ],
      [["+sd", "+r", "+sp", "f?"], ["sub/f1"]],
      [
        ["+sd", "-r"],
        ["a.dcm", "b.DCM"],
      ],
    ];
    for (const [args, want] of cases) {
      test(`${args.join(" ")} -> ${want.join(" ")}`, async () => {
        const r = await sent(args);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.paths, want);
      });
    }
    test("a directory without +sd is ignored with DCMTK's warning; nothing left to send: exit 1", async () => {
      const r = await sent([]);
      assert.equal(r.code, 1);
      assert.deepEqual(r.paths, []);
      assert.match(r.stderr, /ignoring directory because option --scan-directories is not set/);
      assert.match(r.stderr, /no input files to be sent/);
    });
  });
});

describe("non-DICOM files and failures", () => {
  let good1: string;
  let bad: string;
  let good2: string;
  before(async () => {
    const dir = join(work, "mixed");
    await mkdir(dir);
    good1 = join(dir, "1.dcm");
    bad = join(dir, "2.dcm");
    good2 = join(dir, "3.dcm");
    await copyFile(files[0]!, good1);
    await writeFile(bad, "this is not a DICOM file\n");
    await copyFile(files[1]!, good2);
  });

  for (const how of ["files", "+sd +r"] as const) {
    test(`halting (default), ${how}: exit 1 at the non-DICOM file, which is reported; nothing sent, no association`, async () => {
      const od = await mkdtemp(join(work, "halt-"));
      const own = await startStorescpTs(["-v"], { od });
      const args = how === "files" ? [good1, bad, good2] : ["+sd", "+r", join(work, "mixed")];
      const r = await runMain(main, [HOST, String(own.port), ...args]);
      const scpRun = await own.stop();
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^E: storescu-ts: Bad DICOM file: .*2\.dcm: .*; nothing sent$/m);
      assert.deepEqual(
        ndjson(r.stdout).map((x) => [x.path, x.status]),
        [[bad, "Failure"]],
      );
      assert.deepEqual(await filesUnder(od), [], "nothing stored");
      assert.doesNotMatch(scpRun.stderr, /Association Received/, "no association");
    });
  }

  test("halting with paths on stdin: files before the non-DICOM one are sent, exit 1", async () => {
    const od = await mkdtemp(join(work, "halt-stdin-"));
    const own = await startStorescpTs([], { od });
    const r = await runMain(main, [HOST, String(own.port)], {
      input: `${[good1, bad, good2].join("\n")}\n`,
    });
    await own.stop();
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      ndjson(r.stdout).map((x) => x.status),
      ["Success", "Failure"],
    );
    assert.deepEqual(
      (await filesUnder(od)).map((n) => metaOf(join(od, n)).sopInstanceUid),
      [uidOf(good1)],
    );
  });

  test("-nh: the non-DICOM file is reported and skipped, the others sent, exit 3", async () => {
    for (const o of [
      { args: [good1, bad, good2] },
      { args: [], input: `${[good1, bad, good2].join("\n")}\n` },
    ]) {
      const r = await runMain(main, ["-nh", HOST, String(scp.port), ...o.args], {
        input: o.input,
      });
      assert.equal(r.code, 3, r.stderr);
      const recs = ndjson(r.stdout);
      assert.equal(recs.length, 3);
      assert.equal(recs.find((x) => x.path === bad)?.status, "Failure");
      assert.ok(String(recs.find((x) => x.path === bad)?.error).length > 0);
      assert.deepEqual(
        recs
          .filter((x) => x.status === "Success")
          .map((x) => x.SOPInstanceUID)
          .sort(),
        [uidOf(good1), uidOf(good2)].sort(),
      );
      assertReceived(good1);
      assertReceived(good2);
    }
  });

  test("a failure status halts with exit status >> 8; -nh goes on and exits 3", async () => {
    // A --layout below a regular file cannot be written: storescp-ts answers a failure status.
    const od = await mkdtemp(join(work, "fail-"));
    await writeFile(join(od, "f"), "x");
    const own = await startStorescpTs(["--layout", "f/{SOPInstanceUID}"], { od });
    try {
      const halt = await runMain(main, [HOST, String(own.port), ...files.slice(0, 3)]);
      const recs = ndjson(halt.stdout);
      assert.equal(recs.length, 1);
      const status = parseInt(String(recs[0]!.statusCode), 16);
      assert.ok(status >= 0xa000, String(recs[0]!.statusCode));
      assert.equal(halt.code, status >> 8);
      const nh = await runMain(main, ["-nh", HOST, String(own.port), ...files.slice(0, 3)]);
      assert.equal(nh.code, 3);
      assert.deepEqual(
        ndjson(nh.stdout).map((x) => x.status),
        ["Failure", "Failure", "Failure"],
      );
    } finally {
      await own.stop();
    }
  });
});

/** A peer on 127.0.0.1 that accepts every proposed context; `established` installs its handlers. */
function acceptingPeer(established: (assoc: Association) => void) {
  return serve({
    port: 0,
    host: HOST,
    decide: (rq) => ({ contexts: negotiateContexts(rq.contexts, (_as, offered) => offered) }),
    established,
  });
}

/** The C-STORE-RSP with `status` to the C-STORE-RQ `msg`. */
function answerStore(assoc: Association, msg: Message, status: number): void {
  const cmd = msg.command;
  assoc
    .sendMessage(msg.pcid, {
      commandField: CommandField.CStoreRSP,
      messageIdBeingRespondedTo: cmd.messageId,
      affectedSopClassUid: cmd.affectedSopClassUid,
      affectedSopInstanceUid: cmd.affectedSopInstanceUid,
      status,
      hasDataset: false,
    })
    .catch(() => undefined);
}

describe("behaviour", () => {
  test("-td with a peer that never answers: each file fails on the DIMSE timeout, on a fresh association; -nh exits 3", async () => {
    let associations = 0;
    const silent = await acceptingPeer((assoc) => {
      associations++;
      assoc.handleRequests(() => undefined);
    });
    try {
      const r = await runMain(main, [
        "-nh",
        "-td",
        "1",
        HOST,
        String(silent.port),
        ...files.slice(0, 2),
      ]);
      assert.equal(r.code, 3, r.stderr);
      const recs = ndjson(r.stdout);
      assert.deepEqual(
        recs.map((x) => x.status),
        ["Failure", "Failure"],
      );
      for (const x of recs) assert.match(String(x.error), /DIMSE No data available/);
      assert.equal(associations, 2, "the timed-out association is aborted and a new one opened");
    } finally {
      await silent.close(0);
    }
  });

  test("-j 4: every file sent once over parallel associations", async () => {
    const od = await mkdtemp(join(work, "j4-"));
    const own = await startStorescpTs([], { od });
    const r = await runBin("storescu-ts", ["-j", "4", HOST, String(own.port), ...files]);
    const exit = await own.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      ndjson(r.stdout)
        .map((x) => x.SOPInstanceUID)
        .sort(),
      files.map(uidOf).sort(),
    );
    assert.equal(ndjson(exit.stdout).length, files.length);
  });

  test("-j 3 from the sources (worker threads run the .ts module): every file sent once, one record each", async () => {
    const od = await mkdtemp(join(work, "j3-"));
    const own = await startStorescpTs([], { od });
    const r = await runMain(main, ["-j", "3", HOST, String(own.port), ...files], {
      env: { DICOM_PIPES_THREADS: "2" },
    });
    const exit = await own.stop();
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.deepEqual(recs.map((x) => x.SOPInstanceUID).sort(), files.map(uidOf).sort());
    for (const x of recs) assert.equal(x.status, "Success");
    assert.equal(ndjson(exit.stdout).length, files.length);
  });

  test("-j 4, SIGTERM mid-run: the stores in hand are answered and recorded, every association released, exit 143 (not killed)", async () => {
    // A peer that answers each C-STORE after 300 ms, and notes how each association ended.
    const stores: string[] = [];
    const ends: string[] = [];
    let associations = 0;
    const slow = await acceptingPeer((assoc) => {
      associations++;
      assoc.socket.once("close", () => ends.push(assoc.error?.kind ?? "released"));
      assoc.handleRequests((msg) => {
        const cmd = msg.command;
        if (cmd.commandField !== CommandField.CStoreRQ) return;
        stores.push(String(cmd.affectedSopInstanceUid));
        setTimeout(() => answerStore(assoc, msg, 0), 300);
      });
    });
    try {
      // Enough files that the run is far from its end when the signal comes.
      const many = Array.from({ length: 6 }, () => files).flat();
      const p = startBin("storescu-ts", ["-j", "4", HOST, String(slow.port), ...many], {
        env: { DICOM_PIPES_THREADS: "2" },
      });
      assert.ok(await until(() => stores.length >= 4, 20_000), "four stores in flight");
      p.child.kill("SIGTERM");
      const r = await p.done;
      assert.equal(r.signal, null, "ended by itself, not by the signal's default action");
      assert.equal(r.code, 143, r.stderr);
      const recs = ndjson(r.stdout);
      assert.ok(recs.length < many.length, "the run stopped early");
      // Every store the peer got was answered and recorded; no file was left half sent.
      assert.equal(recs.length, stores.length);
      for (const x of recs) assert.equal(x.status, "Success");
      assert.equal(associations, 4);
      assert.ok(await until(() => ends.length === 4, 5_000), "every association ended");
      assert.deepEqual(ends, ["released", "released", "released", "released"]);
    } finally {
      await slow.close(0);
    }
  });

  test("-j 2, a failure status halts: only the files already in hand reach the peer, none queued behind them; exit 167", async () => {
    // The first store fails at once (0xA700); the others are answered after 300 ms.
    const stores: string[] = [];
    const peer = await acceptingPeer((assoc) => {
      assoc.handleRequests((msg) => {
        const cmd = msg.command;
        if (cmd.commandField !== CommandField.CStoreRQ) return;
        stores.push(String(cmd.affectedSopInstanceUid));
        const status = stores.length === 1 ? 0xa700 : 0;
        setTimeout(() => answerStore(assoc, msg, status), status ? 0 : 300);
      });
    });
    try {
      // One thread for both associations: a file waits there behind each one in hand.
      const r = await runBin("storescu-ts", ["-j", "2", HOST, String(peer.port), ...files], {
        env: { DICOM_PIPES_THREADS: "1" },
      });
      assert.equal(r.code, 0xa7, r.stderr);
      const recs = ndjson(r.stdout);
      // One file per association was in hand; the files given to the sending thread after them were not started.
      assert.equal(stores.length, 2, `stores: ${stores.length}`);
      assert.equal(recs.length, 2);
      assert.deepEqual(recs.map((x) => x.status).sort(), ["Failure", "Success"]);
    } finally {
      await peer.close(0);
    }
  });

  describe("-j 4, paths on stdin: the run's lanes share the contexts they have met", () => {
    const LANES = 4;
    /** Files of each SOP class, the same number of each. */
    let byClass: string[][];
    before(async () => {
      // Each patient's first study cycles CT, MR, CR, US, PT: five SOP classes.
      const classes = new Map<string, string[]>();
      const out = join(work, "classes");
      await generateArchive({
        out,
        patients: 5,
        seed: "storescu-ts-classes",
        studiesPerPatient: 1,
        seriesPerStudy: 1,
        instancesPerSeries: 8,
        rows: 8,
        layout: "flat",
        onInstance: (_n, i) => {
          const list = classes.get(i.sopClassUID) ?? [];
          if (!classes.has(i.sopClassUID)) classes.set(i.sopClassUID, list);
          list.push(join(out, ...i.relPath.split("/")));
        },
      });
      const rounds = Math.min(...[...classes.values()].map((l) => l.length));
      byClass = [...classes.values()].map((l) => l.slice(0, rounds));
    });

    for (const threads of ["0", "1"]) {
      const where = threads === "0" ? "in the main thread" : "in one worker thread";
      test(`${where}: at most one association per class, plus one per lane`, async () => {
        const n = byClass.length;
        assert.equal(n, 5, "five SOP classes");
        const od = await mkdtemp(join(work, "classes-od-"));
        const own = await startStorescpTs(["-v", "--layout", "{SOPInstanceUID}.dcm"], { od });
        const child = spawn(
          process.execPath,
          [binPath("storescu-ts"), "-j", String(LANES), HOST, String(own.port)],
          {
            env: { ...process.env, DICOM_PIPES_THREADS: threads },
            stdio: ["pipe", "pipe", "pipe"],
          },
        );
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => err.push(c));
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        const round = (r: number) => byClass.map((l) => `${l[r]}\n`).join("");
        try {
          // First one file of each class; once the receiver holds them, every class is in
          // the run's set (a file's class is added before the file is sent).
          child.stdin.write(round(0));
          assert.ok(
            await until(async () => (await filesUnder(od)).length === n, 20_000),
            `the first ${n} files received`,
          );
          // Then the classes interleaved.
          for (let r = 1; r < byClass[0]!.length; r++) child.stdin.write(round(r));
          child.stdin.end();
          const code = await exited;
          const stderr = Buffer.concat(err).toString();
          assert.equal(code, 0, stderr);
          const recs = ndjson(Buffer.concat(out).toString());
          assert.equal(recs.length, n * byClass[0]!.length);
          for (const x of recs) assert.equal(x.status, "Success");
        } finally {
          child.kill("SIGKILL");
          await own.stop();
        }
        const associations = own.stderr().match(/Association Received/g)?.length ?? 0;
        // The first n files open at most one association each. Every association opened
        // after them proposes all n classes, so each lane opens at most one more. With a
        // set per lane, each lane would open one for each class it meets: up to n per lane.
        assert.ok(
          associations <= n + LANES,
          `${associations} associations, at most ${n + LANES} with the contexts shared`,
        );
      });

      test(`${where}, file arguments (read first): one association per lane, proposing every class`, async () => {
        const od = await mkdtemp(join(work, "classes-args-"));
        const own = await startStorescpTs(["-v"], { od });
        const all = byClass.flat();
        const r = await runBin(
          "storescu-ts",
          ["-j", String(LANES), HOST, String(own.port), ...all],
          {
            env: { DICOM_PIPES_THREADS: threads },
          },
        );
        await own.stop();
        assert.equal(r.code, 0, r.stderr);
        assert.equal(ndjson(r.stdout).length, all.length);
        // Every class is known before the first association: each lane opens one, never another.
        assert.equal(own.stderr().match(/Association Received/g)?.length, LANES);
      });
    }
  });

  test("more classes than 128 proposals hold: each file on an association that proposed its class", async () => {
    // 65 classes, each proposed in the file's syntax and in the uncompressed fallbacks: 130
    // proposals, two more than an association request holds (PS3.8 9.3.2.2: ids 1 to 255, odd).
    const dir = await mkdtemp(join(work, "many-classes-"));
    const many: string[] = [];
    await generateArchive({
      out: join(dir, "src"),
      patients: 1,
      seed: "storescu-ts-many",
      studiesPerPatient: 1,
      seriesPerStudy: 1,
      instancesPerSeries: 1,
      rows: 8,
      layout: "flat",
      onInstance: (_n, i) => {
        for (let k = 1; k <= 65; k++) {
          // Private SOP classes (UIDs under 2.25), which storescp-ts accepts as storage.
          const ds = i.dataset
            .setString(Tags.SOPClassUID, "UI", `2.25.${k}`)
            .setString(Tags.SOPInstanceUID, "UI", `2.25.1000${k}`);
          many.push(join(dir, `${k}.dcm`));
          writeFileSync(
            many.at(-1)!,
            encodePart10(ds, { transferSyntax: TransferSyntax.ExplicitVRLittleEndian }),
          );
        }
      },
    });
    const r = await runBin("storescu-ts", [HOST, String(scp.port), ...many]);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.equal(recs.length, many.length);
    for (const x of recs) assert.equal(x.status, "Success", `${x.SOPClassUID}: ${x.error}`);
  });

  test("+rn: sent files renamed <name>.done", async () => {
    const dir = await mkdtemp(join(work, "rn-"));
    const copies = [join(dir, "x.dcm"), join(dir, "y")];
    await copyFile(files[0]!, copies[0]!);
    await copyFile(files[1]!, copies[1]!);
    const r = await runMain(main, ["+rn", HOST, String(scp.port), ...copies]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(dir)).sort(), ["x.dcm.done", "y.done"]);
  });
});

test("under a terminal: N/M files with percent, bytes, rate and ETA, then a summary line", {
  skip: spawnSync("script", ["--version"]).status !== 0 && "no script(1)",
}, () => {
  const cmd = [
    process.execPath,
    binPath("storescu-ts"),
    "--no-output",
    HOST,
    String(scp.port),
    ...files,
  ]
    .map((a) => `'${a}'`)
    .join(" ");
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
  delete env.CI;
  // storescp-ts is a process of its own: a synchronous spawn does not stall it.
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    env,
    encoding: "utf8",
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stdout);
  const lines = r.stdout
    .split("\r\x1b[K")
    .map((l) => l.trim())
    .filter(Boolean);
  const n = files.length;
  // The files are read before sending (they are arguments): the total is known from the first line.
  assert.match(
    lines[0]!,
    new RegExp(
      `^1/${n} files \\(${Math.floor(100 / n)}%\\), [\\d.]+ [KM]?B, [\\d.]+ [KM]?B/s, ETA \\d+s$`,
    ),
  );
  assert.match(
    lines.at(-1)!,
    new RegExp(`^I: storescu-ts: ${n} files in \\d+s, [\\d.]+ [KM]?B, [\\d.]+ [KM]?B/s$`),
  );
});
