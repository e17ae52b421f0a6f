/**
 * storescp-ts as a program: command line, start-up errors, records,
 * shutdown on SIGTERM. No external peers: storescu-ts sends, gen-archive
 * writes the data. Expected values come from the source files, DCMTK's
 * documented behaviour (../shared/reference/dcmtk-cli.md §4, §7, §8) and
 * the package's own manifest.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { SopClass, TransferSyntax } from "@dicom-pipes/dimse/dicom";
import { connect as dicomConnect } from "@dicom-pipes/dimse/net";
import { ndjson, runBin, startBin, until } from "@dicom-pipes/test-support/bins";
import { busyPort, freePort, tcpProbe } from "@dicom-pipes/test-support/peers";
import { isListening, startStorescpTs } from "@dicom-pipes/test-support/corpus";
import { datasetBytes, filesUnder, metaOf } from "@dicom-pipes/test-support/files";

const HOST = "127.0.0.1";
const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

let work: string;
/** Small gen-archive instances with the values gen-archive reports for them. */
let small: Array<{
  path: string;
  sopInstanceUID: string;
  sopClassUID: string;
  patientID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  modality: string;
}>;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "storescp-ts-bin-"));
  small = [];
  const out = join(work, "small");
  await generateArchive({
    out,
    patients: 3,
    seed: "storescp-ts-bin",
    studiesPerPatient: 1,
    seriesPerStudy: [1, 2],
    instancesPerSeries: 2,
    rows: 16,
    layout: "flat",
    onInstance: (_n, i) =>
      small.push({
        path: join(out, ...i.relPath.split("/")),
        sopInstanceUID: i.sopInstanceUID,
        sopClassUID: i.sopClassUID,
        patientID: i.patientID,
        studyInstanceUID: i.studyInstanceUID,
        seriesInstanceUID: i.seriesInstanceUID,
        modality: i.modality,
      }),
  });
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const od = () => mkdtemp(join(work, "od-"));

describe("command line", () => {
  test("--help: usage on stdout, exit 0; no arguments: the same", async () => {
    const r = await runBin("storescp-ts", ["--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /storescp-ts \[options\] port/);
    assert.match(r.stdout, /DICOM storage \(C-STORE\) SCP/);
    for (const opt of [
      "-aet",
      "-od",
      "-su",
      "-fe",
      "+uf",
      "-xcr",
      "-xcs",
      "-tos",
      "--layout",
      "--accept-calling",
      "--bind",
    ])
      assert.ok(r.stdout.includes(opt), `help mentions ${opt}`);
    const none = await runBin("storescp-ts", []);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, r.stdout);
  });

  test("--version: name and the package version", async () => {
    const r = await runBin("storescp-ts", ["--version"]);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith(`storescp-ts ${VERSION} (dicom-pipes; `), r.stdout);
  });

  test("unknown option: exit 2, named on stderr, nothing on stdout", async () => {
    const r = await runBin("storescp-ts", ["--no-such-option", "-od", work, "104"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--no-such-option/);
    assert.equal(r.stdout, "");
  });

  test("missing or invalid port: exit 2", async () => {
    const missing = await runBin("storescp-ts", ["-od", work]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /port/i);
    const bad = await runBin("storescp-ts", ["-od", work, "notaport"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid parameter value notaport/);
  });

  test("port busy: exit 60 with DCMTK's message", async () => {
    const busy = await busyPort("0.0.0.0");
    try {
      const r = await runBin("storescp-ts", ["-od", work, String(busy.port)], {
        timeoutMs: 10_000,
      });
      assert.equal(r.code, 60, r.stderr);
      assert.match(
        r.stderr,
        /cannot create network: 0006:031c TCP Initialization Error: Address already in use/,
      );
    } finally {
      await busy.close();
    }
  });

  test("output directory missing (or a file): exit 45", async () => {
    const port = String(await freePort());
    const r = await runBin("storescp-ts", ["-od", join(work, "does-not-exist"), port], {
      timeoutMs: 10_000,
    });
    assert.equal(r.code, 45, r.stderr);
    assert.match(r.stderr, /specified output directory does not exist/);
    const file = join(work, "a-file");
    await writeFile(file, "x");
    const f = await runBin("storescp-ts", ["-od", file, port], { timeoutMs: 10_000 });
    assert.equal(f.code, 45, f.stderr);
  });

  test("bad --layout templates and --layout with a sort option: exit 2", async () => {
    const port = String(await freePort());
    for (const layout of [
      "{NoSuchKeyword}.dcm",
      "/abs/{SOPInstanceUID}",
      "../{SOPInstanceUID}",
      "a/./{SOPInstanceUID}",
      "",
    ]) {
      const r = await runBin("storescp-ts", ["--layout", layout, "-od", work, port], {
        timeoutMs: 10_000,
      });
      assert.equal(r.code, 2, `${JSON.stringify(layout)}: ${r.stderr}`);
    }
    const both = await runBin(
      "storescp-ts",
      ["--layout", "hierarchy", "-su", "", "-od", work, port],
      { timeoutMs: 10_000 },
    );
    assert.equal(both.code, 2, both.stderr);
  });
});

describe("receiving", () => {
  test("port before the options (DCMTK grammar); one record per instance with the instance's values; names <prefix>.<SOPInstanceUID>", async () => {
    const dir = await od();
    // startStorescpTs puts the port last; here the port comes first.
    const port = await freePort();
    const scp = startBin("storescp-ts", [String(port), "-aet", "ARCHIVE", "-od", dir]);
    try {
      await until(() => isListening(port), 5000, 25);
      const r = await runBin("storescu-ts", [
        "-aet",
        "SENDER",
        "-aec",
        "ARCHIVE",
        HOST,
        String(port),
        ...small.map((s) => s.path),
      ]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      scp.child.kill("SIGTERM");
    }
    const exit = await scp.done;
    assert.equal(exit.code, 0);
    const records = ndjson(exit.stdout);
    assert.equal(records.length, small.length);
    const prefixes: Record<string, string> = { CT: "CT", MR: "MR", CR: "CR", US: "US", PT: "PI" };
    for (const s of small) {
      const rec = records.find((x) => x.SOPInstanceUID === s.sopInstanceUID);
      assert.ok(rec, s.sopInstanceUID);
      assert.equal(
        rec.path,
        join(dir, `${prefixes[s.modality]}.${s.sopInstanceUID}`),
        "DCMTK's <prefix>.<SOPInstanceUID> (PET: PI)",
      );
      assert.equal(rec.bytes, (await stat(rec.path as string)).size);
      assert.equal(rec.callingAet, "SENDER");
      assert.equal(rec.transferSyntax, "1.2.840.10008.1.2.1");
      assert.equal(rec.SOPClassUID, s.sopClassUID);
      assert.equal(rec.PatientID, s.patientID);
      assert.equal(rec.StudyInstanceUID, s.studyInstanceUID);
      assert.equal(rec.SeriesInstanceUID, s.seriesInstanceUID);
      assert.equal(rec.Modality, s.modality);
      assert.ok(datasetBytes(rec.path as string).equals(datasetBytes(s.path)), "dataset as sent");
      const m = metaOf(rec.path as string);
      assert.equal(m.sopInstanceUid, s.sopInstanceUID);
      assert.equal(m.sourceAet, "SENDER", "(0002,0016) is the calling AE, as DCMTK storescp");
    }
  });

  test("the same instance twice: one file, overwritten with DCMTK's warning", async () => {
    const dir = await od();
    const scp = await startStorescpTs([], { od: dir });
    const one = small[0]!.path;
    const r = await runBin("storescu-ts", [HOST, String(scp.port), one, one]);
    const exit = await scp.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await filesUnder(dir)).length, 1);
    assert.match(exit.stderr, /W: .*DICOM file already exists, overwriting: /);
  });

  test("--accept-calling: other calling AE titles are rejected (storescu-ts exit 61), listed ones store", async () => {
    const dir = await od();
    const scp = await startStorescpTs(["--accept-calling", "ONE,TWO"], { od: dir });
    const bad = await runBin("storescu-ts", [
      "-aet",
      "THREE",
      HOST,
      String(scp.port),
      small[0]!.path,
    ]);
    const good = await runBin("storescu-ts", [
      "-aet",
      "TWO",
      HOST,
      String(scp.port),
      small[0]!.path,
    ]);
    const exit = await scp.stop();
    assert.equal(bad.code, 61, bad.stderr);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(ndjson(exit.stdout).length, 1);
  });

  test("--layout: files placed by the template under -od", async () => {
    const dir = await od();
    const scp = await startStorescpTs(
      ["--layout", "{PatientID}/{StudyInstanceUID}/{SOPInstanceUID}.dcm"],
      { od: dir },
    );
    const r = await runBin("storescu-ts", [HOST, String(scp.port), ...small.map((s) => s.path)]);
    const exit = await scp.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(exit.code, 0);
    assert.deepEqual(
      await filesUnder(dir),
      small.map((s) => `${s.patientID}/${s.studyInstanceUID}/${s.sopInstanceUID}.dcm`).sort(),
    );
  });
});

// ---------------------------------------------------------------------------

/** A TCP relay that forwards client-to-server data at about `bytesPerSecond`. */
async function throttle(
  target: number,
  bytesPerSecond: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: HOST, port: target });
    sockets.add(client);
    sockets.add(upstream);
    client.pause();
    const queue: Buffer[] = [];
    let closed = false;
    client.on("data", (b: Buffer) => queue.push(b));
    const tickMs = 20;
    const perTick = Math.max(1, Math.floor((bytesPerSecond * tickMs) / 1000));
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length) {
        const b = queue[0]!;
        if (b.length <= budget) {
          upstream.write(queue.shift()!);
          budget -= b.length;
        } else {
          upstream.write(b.subarray(0, budget));
          queue[0] = b.subarray(budget);
          budget = 0;
        }
      }
      if (closed && queue.length === 0) {
        clearInterval(timer);
        upstream.end();
      }
    }, tickMs);
    upstream.on("connect", () => client.resume());
    upstream.on("data", (b: Buffer) => client.write(b));
    client.on("end", () => (closed = true));
    const done = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("close", done);
    upstream.on("error", done);
    client.on("error", done);
  });
  await new Promise<void>((res) => server.listen(0, HOST, () => res()));
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

describe("SIGTERM", () => {
  test("with nothing in flight: exit 0 at once, temporary directory removed", async () => {
    const dir = await od();
    const scp = await startStorescpTs([], { od: dir });
    const t0 = Date.now();
    const exit = await scp.stop("SIGTERM", 5000);
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(Date.now() - t0 < 3000, `exited after ${Date.now() - t0} ms`);
    assert.deepEqual(await readdir(dir), []);
  });

  test("during a transfer: the instance in flight is finished, exit 0, no .part file, every Success the sender saw is a complete file", async (t) => {
    const big = join(work, "big");
    const files: string[] = [];
    await generateArchive({
      out: big,
      patients: 1,
      seed: "storescp-ts-sigterm",
      studiesPerPatient: 1,
      seriesPerStudy: 1,
      instancesPerSeries: 5,
      rows: 1024,
      cols: 1024,
      layout: "flat",
      onInstance: (_n, i) => files.push(join(big, ...i.relPath.split("/"))),
    });
    const dir = await od();
    const scp = await startStorescpTs(["-v"], { od: dir });
    // About 0.5 s per 2 MB instance.
    const relay = await throttle(scp.port, 4 * 1024 * 1024);
    try {
      const sending = runBin("storescu-ts", [HOST, String(relay.port), ...files], {
        timeoutMs: 60_000,
      });
      // Signal once the second instance has started to arrive.
      const started = () => (scp.stderr().match(/Received Store Request/g) ?? []).length;
      const deadline = Date.now() + 20_000;
      while (started() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(started(), 2, scp.stderr());
      assert.equal(ndjson(scp.stdout()).length, 1, "the second instance is still arriving");
      const exit = await scp.stop("SIGTERM", 30_000);
      const sent = await sending;
      assert.equal(exit.code, 0, exit.stderr);
      const records = ndjson(exit.stdout);
      t.diagnostic(
        `stored ${records.length} of ${files.length}; storescu-ts exit ${sent.code}, ${ndjson(
          sent.stdout,
        )
          .map((x) => x.status)
          .join(" ")}`,
      );
      assert.ok(
        records.length >= 2,
        `the instance in flight was finished (${records.length} stored)`,
      );
      const stored = await filesUnder(dir, { hidden: true });
      assert.deepEqual(
        stored.filter((n) => n.endsWith(".part") || n.startsWith(".")),
        [],
        "no temporary file left",
      );
      assert.equal(stored.length, records.length);
      const successes = ndjson(sent.stdout).filter((x) => x.status === "Success");
      assert.ok(successes.length >= 1);
      for (const s of successes) {
        const rec = records.find((x) => x.SOPInstanceUID === s.SOPInstanceUID);
        assert.ok(rec, `Success for ${String(s.SOPInstanceUID)} but no stored file`);
        assert.ok(
          datasetBytes(rec.path as string).equals(datasetBytes(s.path as string)),
          "complete and identical",
        );
      }
      // The sender sees the association end (10), or its next association refused (61).
      assert.ok(
        [0, 10, 61].includes(sent.code ?? -1),
        `storescu-ts exit ${sent.code}: ${sent.stderr}`,
      );
    } finally {
      await relay.close();
    }
  });

  test("an idle association and a silent connection (nothing in flight) do not delay the exit", async () => {
    const dir = await od();
    const scp = await startStorescpTs([], { od: dir });
    const assoc = await dicomConnect({
      host: HOST,
      port: scp.port,
      callingAet: "IDLE",
      calledAet: "STORESCP",
      contexts: [
        {
          abstractSyntax: SopClass.Verification,
          transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian],
        },
      ],
    });
    const silent = connect(scp.port, HOST);
    silent.on("error", () => undefined);
    await new Promise((r) => silent.once("connect", r));
    try {
      const t0 = Date.now();
      const exit = await scp.stop("SIGTERM", 5000);
      assert.equal(exit.code, 0, `exit ${exit.code} (${exit.signal}) after ${Date.now() - t0} ms`);
      assert.ok(Date.now() - t0 < 3000, `exited after ${Date.now() - t0} ms`);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      assoc.abort();
      silent.destroy();
    }
  });

  test("a connection closed before its A-ASSOCIATE-RQ (a port probe) does not delay the exit", async () => {
    const dir = await od();
    const scp = await startStorescpTs([], { od: dir });
    assert.ok(await tcpProbe(scp.port), "the probe connects");
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const exit = await scp.stop("SIGTERM", 3000);
    assert.equal(exit.code, 0, `killed after ${Date.now() - t0} ms`);
    assert.doesNotMatch(exit.stderr, /No A-ASSOCIATE-RQ/);
  });
});
