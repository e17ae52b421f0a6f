/**
 * storescp-ts and storescu-ts against DCMTK storescu/storescp and Orthanc,
 * over the corpus of test/support/corpus.ts (nine transfer syntaxes,
 * multi-frame, private elements and a private SOP class, Latin-1 and
 * UTF-8, nested sequences of both length encodings).
 *
 * Reference values come from DCMTK and Orthanc run side by side on the
 * same input, from the source files, or from the standard:
 * - DCMTK storescp `+B` writes the dataset exactly as it arrived, so its
 *   files are the bytes DCMTK storescu put on the wire. DCMTK storescu
 *   re-encodes what it sends (undefined-length sequences and items go out
 *   with explicit lengths; a deflated dataset is deflated again and padded
 *   to even length), so for those files the wire bytes differ from the
 *   source file, and storescp-ts must store the wire bytes.
 * - Orthanc also re-encodes what it receives; its copy of a file sent by
 *   DCMTK storescu is the reference for its copy of the same file sent by
 *   storescu-ts.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, sep } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import {
  dumpValue,
  hasOrthanc,
  runDcmtk,
  startOrthanc,
  startStorescp,
  type OrthancPeer,
} from "@dicom-pipes/test-support/peers";
import { ndjson, runBin, until } from "@dicom-pipes/test-support/bins";
import {
  buildCorpus,
  corpusSkip,
  startStorescpTs,
  storescuProfile,
  TS,
  UNCOMPRESSED,
  type CorpusEntry,
} from "@dicom-pipes/test-support/corpus";
import {
  datasetBytes,
  datasetOf,
  filesUnder,
  metaOf,
  readMeta,
} from "@dicom-pipes/test-support/files";

const skip = corpusSkip();
const skipOrthanc =
  skip || (!hasOrthanc() ? "Orthanc is required (apt-get install orthanc)" : false);

const HOST = "127.0.0.1";
let work: string;
let corpus: CorpusEntry[];
let bySop: Map<string, CorpusEntry>;
/** storescu -xf arguments proposing every (class, syntax) pair of the corpus. */
let profile: string[];

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), "storage-interop-"));
  corpus = await buildCorpus();
  bySop = new Map(corpus.map((e) => [e.sopInstanceUid, e]));
  profile = await storescuProfile(corpus, join(work, "storescu.cfg"));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const entry = (label: string): CorpusEntry => {
  const e = corpus.find((c) => c.label === label);
  if (!e) throw new Error(`no corpus entry ${label}`);
  return e;
};
const isDeflated = (e: CorpusEntry) => e.transferSyntax === TS.Deflated;
const isEncapsulated = (e: CorpusEntry) => !UNCOMPRESSED.has(e.transferSyntax) && !isDeflated(e);

/** DCMTK storescu with the corpus profile (every file sent in its own syntax). */
function dcmtkStorescu(port: number, files: string[], extra: string[] = []) {
  return runDcmtk("storescu", [...profile, ...extra, HOST, String(port), ...files], {
    timeoutMs: 120_000,
  });
}

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, "latin1")).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** dcmdump of a file's dataset with sequence/item length encoding and the transfer syntax line left out. */
async function contentDump(path: string): Promise<string> {
  const r = await runDcmtk("dcmdump", ["-q", path]);
  assert.equal(r.code, 0, `dcmdump ${path}: ${r.stderr}`);
  const body = r.stdout.split("# Dicom-Data-Set\n")[1] ?? "";
  return body
    .split("\n")
    .filter((l) => !l.startsWith("# Used TransferSyntax") && !/^\s*\(fffe,e0(0d|dd)\)/.test(l))
    .map((l) =>
      l
        .replace(/^(\s*\([0-9a-f]{4},[0-9a-f]{4}\) SQ ).*$/, "$1")
        .replace(/^(\s*\(fffe,e000\) na ).*$/, "$1"),
    )
    .join("\n");
}

const DCMCONV_FLAG: Record<string, string> = {
  [TS.ExplicitLE]: "+te",
  [TS.ImplicitLE]: "+ti",
  [TS.ExplicitBE]: "+tb",
};

/** The source converted by DCMTK dcmconv to `ts`, as a content dump. */
async function dcmconvDump(src: string, ts: string): Promise<string> {
  const out = join(work, `conv-${basename(src)}-${ts}.dcm`);
  const r = await runDcmtk("dcmconv", [DCMCONV_FLAG[ts]!, src, out]);
  assert.equal(r.code, 0, r.stderr);
  return contentDump(out);
}

interface Received {
  refDir: string;
  oursDir: string;
  records: Array<Record<string, unknown>>;
  stderr: string;
}

/**
 * Send `files` with DCMTK storescu to DCMTK storescp (`+xa -pm`, plus
 * `dcmtkOnly`) and to storescp-ts with the same storescp options `args`
 * (DCMTK and ours in parallel; each sender waits for its receiver).
 */
async function receiveWithBoth(
  args: string[],
  o: {
    files?: string[];
    dcmtkOnly?: string[];
    hooks?: (dir: string) => string[];
    settle?: (ref: string, ours: string) => Promise<void>;
  } = {},
): Promise<Received> {
  const files = o.files ?? corpus.map((e) => e.path);
  const refBase = await mkdtemp(join(work, "ref-"));
  const oursBase = await mkdtemp(join(work, "ours-"));
  const refDir = join(refBase, "od");
  const oursDir = join(oursBase, "od");
  await mkdir(refDir);
  await mkdir(oursDir);
  const ref = await startStorescp({
    dir: refDir,
    args: ["+xa", "-pm", ...(o.dcmtkOnly ?? []), ...args, ...(o.hooks?.(refBase) ?? [])],
  });
  const ours = await startStorescpTs([...args, ...(o.hooks?.(oursBase) ?? [])], { od: oursDir });
  try {
    const [a, b] = await Promise.all([
      dcmtkStorescu(ref.port, files),
      dcmtkStorescu(ours.port, files),
    ]);
    assert.equal(a.code, 0, `storescu -> storescp: ${a.stderr}`);
    assert.equal(
      b.code,
      0,
      `storescu -> storescp-ts: ${b.stderr}\n--- storescp-ts:\n${ours.stderr()}`,
    );
    await o.settle?.(refBase, oursBase);
  } finally {
    await ref.stop();
  }
  const r = await ours.stop();
  assert.equal(r.code, 0, `storescp-ts exit after SIGTERM: ${r.stderr}`);
  return { refDir, oursDir, records: ndjson(r.stdout), stderr: r.stderr };
}

// ---------------------------------------------------------------------------

describe("DCMTK storescu -> storescp-ts", { skip }, () => {
  test("every corpus file is stored under DCMTK storescp's name, dataset byte-identical to what DCMTK storescp +B stored", async (t) => {
    const r = await receiveWithBoth([], { dcmtkOnly: ["+B"] });
    const refNames = await filesUnder(r.refDir);
    assert.equal(refNames.length, corpus.length, "DCMTK stored every file");
    assert.deepEqual(await filesUnder(r.oursDir), refNames);
    assert.deepEqual(
      await readdir(r.oursDir),
      refNames,
      "no temporary directory or file left behind",
    );
    const rewritten: string[] = [];
    for (const name of refNames) {
      const refMeta = metaOf(join(r.refDir, name));
      const ourMeta = metaOf(join(r.oursDir, name));
      const src = bySop.get(refMeta.sopInstanceUid)!;
      const want = datasetBytes(join(r.refDir, name));
      assert.ok(
        datasetBytes(join(r.oursDir, name)).equals(want),
        `${src.label}: dataset differs from DCMTK storescp +B's`,
      );
      if (!want.equals(datasetBytes(src.path))) rewritten.push(src.label);
      assert.equal(ourMeta.transferSyntax, refMeta.transferSyntax, `${src.label}: (0002,0010)`);
      assert.equal(
        ourMeta.transferSyntax,
        src.transferSyntax,
        `${src.label}: received in its own syntax`,
      );
      assert.equal(ourMeta.sopClassUid, refMeta.sopClassUid, `${src.label}: (0002,0002)`);
      assert.equal(ourMeta.sopInstanceUid, refMeta.sopInstanceUid, `${src.label}: (0002,0003)`);
      assert.equal(
        ourMeta.sourceAet,
        refMeta.sourceAet,
        `${src.label}: (0002,0016) = the calling AE, as DCMTK`,
      );
      const dump = await runDcmtk("dcmdump", ["-q", "+E", join(r.oursDir, name)]);
      assert.equal(dump.code, 0, `${src.label}: dcmdump reads the stored file: ${dump.stderr}`);
      assert.equal(dump.stderr, "", `${src.label}: dcmdump without warnings`);
    }
    t.diagnostic(
      `re-encoded by DCMTK storescu on the wire (stored as received): ${rewritten.sort().join(", ") || "none"}`,
    );

    assert.equal(r.records.length, corpus.length, "one NDJSON record per stored instance");
    for (const rec of r.records) {
      const src = bySop.get(rec.SOPInstanceUID as string);
      assert.ok(src, `record for an unknown instance: ${JSON.stringify(rec)}`);
      const path = rec.path as string;
      assert.equal(dirname(path), r.oursDir);
      assert.equal(rec.bytes, (await stat(path)).size, `${src.label}: bytes`);
      assert.equal(rec.transferSyntax, src.transferSyntax);
      assert.equal(rec.SOPClassUID, src.sopClassUid);
      assert.equal(rec.callingAet, "STORESCU");
    }
  });

  const sameNames: Array<[string, string[]]> = [
    ["-su ''", ["-su", ""]],
    ["-su study", ["-su", "study"]],
    ["-fe .dcm", ["-fe", ".dcm"]],
    ["-su st -fe .dcm", ["-su", "st", "-fe", ".dcm"]],
    ["-uf", ["-uf"]],
  ];
  for (const [name, args] of sameNames) {
    test(`${name}: same folders and file names as DCMTK storescp`, async () => {
      // The deflated instance is tested on its own below.
      const files = corpus.filter((e) => !isDeflated(e)).map((e) => e.path);
      const r = await receiveWithBoth(args, { files });
      const want = await filesUnder(r.refDir);
      assert.equal(want.length, files.length);
      assert.deepEqual(await filesUnder(r.oursDir), want);
    });
  }

  test("-su '' with a deflated instance: filed under its StudyInstanceUID as DCMTK does, and its record has the Study/Series UIDs, PatientID and Modality", async () => {
    const e = corpus.find(isDeflated)!;
    const r = await receiveWithBoth(["-su", ""], { files: [e.path] });
    const want = await filesUnder(r.refDir);
    assert.equal(want.length, 1);
    assert.deepEqual(await filesUnder(r.oursDir), want);
    const dump = (
      await runDcmtk("dcmdump", [
        "-q",
        "+P",
        "0020,000d",
        "+P",
        "0020,000e",
        "+P",
        "0010,0020",
        "+P",
        "0008,0060",
        e.path,
      ])
    ).stdout;
    const rec = r.records[0]!;
    assert.equal(rec.StudyInstanceUID, dumpValue(dump, "0020,000d"));
    assert.equal(rec.SeriesInstanceUID, dumpValue(dump, "0020,000e"));
    assert.equal(rec.PatientID, dumpValue(dump, "0010,0020"));
    assert.equal(rec.Modality, dumpValue(dump, "0008,0060"));
  });

  /** Group names by a key (e.g. the modality prefix) into a sorted multiset. */
  const multiset = (names: string[], key: (n: string) => string) => names.map(key).sort();

  test("+uf: <prefix>.X.<new UID> as DCMTK storescp (same prefixes, fresh UIDs)", async () => {
    const r = await receiveWithBoth(["+uf"]);
    const ref = await filesUnder(r.refDir);
    const ours = await filesUnder(r.oursDir);
    const form = /^([A-Za-z0-9_]+)\.X\.([0-9]+(\.[0-9]+)+)$/;
    for (const n of ref) assert.match(n, form, `DCMTK name ${n}`);
    for (const n of ours) assert.match(n, form);
    assert.deepEqual(
      multiset(ours, (n) => form.exec(n)![1]!),
      multiset(ref, (n) => form.exec(n)![1]!),
    );
    const uids = ours.map((n) => form.exec(n)![2]!);
    assert.equal(new Set(uids).size, uids.length, "fresh UIDs are unique");
    for (const u of uids) {
      assert.ok(!bySop.has(u), "not the SOP Instance UID");
      assert.ok(u.length <= 64, `UID ${u} longer than 64 characters (PS3.5 9.1)`);
    }
    const sops = ours.map((n) => metaOf(join(r.oursDir, n)).sopInstanceUid).sort();
    assert.deepEqual(sops, [...bySop.keys()].sort());
  });

  test("-tn: YYYYMMDDHHMMSSmmm[_NNNN].<prefix> as DCMTK storescp", async () => {
    const r = await receiveWithBoth(["-tn"]);
    const ref = await filesUnder(r.refDir);
    const ours = await filesUnder(r.oursDir);
    const form = /^(\d{17})(_\d{4})?\.([A-Za-z0-9_]+)$/;
    for (const n of ref) assert.match(n, form, `DCMTK name ${n}`);
    for (const n of ours) assert.match(n, form);
    assert.equal(ours.length, corpus.length);
    assert.deepEqual(
      multiset(ours, (n) => form.exec(n)![3]!),
      multiset(ref, (n) => form.exec(n)![3]!),
    );
    const now = new Date();
    const today = `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, "0")}${String(now.getDate()).padStart(2, "0")}`;
    const refDay = form.exec(ref[0]!)![1]!.slice(0, 8);
    for (const n of ours) assert.ok([today, refDay].includes(n.slice(0, 8)), `${n}: local date`);
  });

  test("-sp: <PatientName reduced to ASCII>_<timestamp> folders as DCMTK storescp (ASCII and Latin-1 names)", async () => {
    // DCMTK reads every name as Latin-1 (UTF-8 names come out mangled): compare ASCII and Latin-1 names only.
    // The deflated file has a test of its own (-su '' above).
    const files = [];
    for (const e of corpus) {
      if (isDeflated(e)) continue;
      if (/ISO_IR 192/.test((await runDcmtk("dcmdump", ["-q", "+P", "0008,0005", e.path])).stdout))
        continue;
      files.push(e.path);
    }
    const r = await receiveWithBoth(["-sp"], { files });
    const stamp = /_\d{8}_\d{9}(?=\/)/;
    const strip = (names: string[]) => names.map((n) => n.replace(stamp, "_<time>")).sort();
    const ref = await filesUnder(r.refDir);
    assert.ok(ref.length >= 12);
    for (const n of ref) assert.match(n, stamp, `DCMTK name ${n}`);
    assert.deepEqual(strip(await filesUnder(r.oursDir)), strip(ref));
  });

  test("-xcr: #p #f #a #c #r substituted as DCMTK does (#a #c #r in double quotes), through a shell (-dhl)", async () => {
    const r = await hookRun(["-dhl"]);
    assert.match(
      r.refQuoted[0]!,
      /^p=<od>\/s_[0-9.]+ f=\S+ a="STORESCU" c="ANY-SCP" r="127\.0\.0\.1"$/,
      "DCMTK's form",
    );
    assert.equal(r.refQuoted.length, corpus.filter((e) => !isDeflated(e)).length);
    assert.deepEqual(r.oursQuoted, r.refQuoted);
    assert.deepEqual(r.oursBare, r.refBare);
  });

  test("-xcr: #r is the peer's host name as DCMTK resolves it (system resolver, /etc/hosts)", async () => {
    const r = await hookRun([]);
    const host = (l: string) => /r="([^"]*)"/.exec(l)?.[1];
    assert.equal(host(r.oursQuoted[0]!), host(r.refQuoted[0]!));
  });

  /** Run the corpus through both receivers with -su s and an -xcr hook that logs the placeholders. */
  async function hookRun(extra: string[]) {
    // Single quotes keep DCMTK's double quotes visible; the bare form shows the shell removing them.
    const hooks = (base: string) => [
      "-xcr",
      `printf '%s\\n' 'p=#p f=#f a=#a c=#c r=#r' >> ${base}/quoted.log; echo bare a=#a c=#c r=#r >> ${base}/bare.log`,
    ];
    let refBase = "";
    let oursBase = "";
    const n = corpus.filter((e) => !isDeflated(e)).length;
    const r = await receiveWithBoth(["-su", "s", ...extra], {
      files: corpus.filter((e) => !isDeflated(e)).map((e) => e.path),
      hooks,
      settle: async (a, b) => {
        refBase = a;
        oursBase = b;
        const all = [`${a}/quoted.log`, `${b}/quoted.log`, `${a}/bare.log`, `${b}/bare.log`];
        assert.ok(
          await until(
            async () => (await Promise.all(all.map(lines))).every((l) => l.length >= n),
            8000,
            50,
          ),
          "timed out waiting for the hooks",
        );
      },
    });
    const norm = async (base: string, dir: string, file: string) =>
      (await lines(`${base}/${file}`)).map((l) => l.split(dir).join("<od>")).sort();
    return {
      refQuoted: await norm(refBase, r.refDir, "quoted.log"),
      oursQuoted: await norm(oursBase, r.oursDir, "quoted.log"),
      refBare: await norm(refBase, r.refDir, "bare.log"),
      oursBare: await norm(oursBase, r.oursDir, "bare.log"),
    };
  }

  test("-xcs with -tos: one command per study, at the change of study and after the timeout, as DCMTK", async () => {
    // Studies in sending order: A A B B C D (C and D: gen-archive studies of their own).
    // -xs: DCMTK runs the commands synchronously, so their order is the order of the studies.
    const files = [
      "explicit-le-sc-latin1",
      "explicit-le-sc-utf8",
      "explicit-le-sr-nested-undefined",
      "explicit-le-rtstruct",
      "explicit-le-ct",
      "big-endian-ct",
    ].map((l) => entry(l).path);
    let refBase = "";
    let oursBase = "";
    const r = await receiveWithBoth(["-su", "", "-tos", "1", "-dhl", "-xs"], {
      files,
      hooks: (base) => ["-xcs", `printf '%s\\n' 'end p=#p a=#a c=#c r=#r' >> ${base}/eos.log`],
      settle: async (a, b) => {
        refBase = a;
        oursBase = b;
        assert.ok(
          await until(
            async () =>
              (await lines(`${a}/eos.log`)).length >= 4 &&
              (await lines(`${b}/eos.log`)).length >= 4,
            10_000,
            50,
          ),
          "timed out waiting for the end-of-study commands",
        );
        await new Promise((res) => setTimeout(res, 300));
      },
    });
    const ref = (await lines(`${refBase}/eos.log`)).map((l) => l.split(r.refDir).join("<od>"));
    const ours = (await lines(`${oursBase}/eos.log`)).map((l) => l.split(r.oursDir).join("<od>"));
    assert.equal(ref.length, 4, ref.join("\n"));
    assert.deepEqual(ours, ref);
  });
});

// ---------------------------------------------------------------------------

describe("storescu-ts -> DCMTK storescp", { skip }, () => {
  async function sendToStorescp(scpArgs: string[], files: string[], scuArgs: string[] = []) {
    const dir = await mkdtemp(join(work, "scp-"));
    const scp = await startStorescp({ dir, args: scpArgs });
    try {
      const r = await runBin("storescu-ts", [...scuArgs, HOST, String(scp.port), ...files], {
        timeoutMs: 60_000,
      });
      return { ...r, records: ndjson(r.stdout), dir, names: await filesUnder(dir) };
    } finally {
      await scp.stop();
    }
  }

  test("+xa: every file (deflated aside) stored, datasets byte-identical to the source", async () => {
    const files = corpus.filter((e) => !isDeflated(e));
    const r = await sendToStorescp(
      ["+xa", "-pm", "+B"],
      files.map((e) => e.path),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, files.length);
    for (const rec of r.records) assert.equal(rec.status, "Success", JSON.stringify(rec));
    assert.equal(r.names.length, files.length);
    for (const n of r.names) {
      const m = metaOf(join(r.dir, n));
      const src = bySop.get(m.sopInstanceUid)!;
      assert.equal(m.transferSyntax, src.transferSyntax, `${src.label}: sent in its own syntax`);
      assert.ok(
        datasetBytes(join(r.dir, n)).equals(datasetBytes(src.path)),
        `${src.label}: dataset differs from the source`,
      );
    }
  });

  test("-j 4 into storescp --fork: every file arrives exactly once over 4 associations, datasets byte-identical, one Success record per file", async () => {
    // Each of the first four files starts a lane (its own association), two in each of two worker threads.
    const files = corpus.filter((e) => !isDeflated(e));
    const dir = await mkdtemp(join(work, "scp-j4-"));
    const scp = await startStorescp({ dir, args: ["--fork", "+xa", "-pm", "+B", "-v"] });
    let r: Awaited<ReturnType<typeof runBin>>;
    let log: string[];
    try {
      r = await runBin(
        "storescu-ts",
        ["-j", "4", HOST, String(scp.port), ...files.map((e) => e.path)],
        { timeoutMs: 60_000, env: { DICOM_PIPES_THREADS: "2" } },
      );
      // storescp's children log each store; wait until the last association has ended.
      await until(
        async () =>
          ((await lines(scp.log)).join("\n").match(/Association Release/g)?.length ?? 0) >= 4,
        10_000,
      );
      log = await lines(scp.log);
    } finally {
      await scp.stop().catch(() => undefined);
    }
    assert.equal(r.code, 0, r.stderr);
    const records = ndjson(r.stdout);
    assert.equal(records.length, files.length);
    for (const rec of records) assert.equal(rec.status, "Success", JSON.stringify(rec));
    assert.deepEqual(
      records.map((x) => x.SOPInstanceUID).sort(),
      files.map((e) => e.sopInstanceUid).sort(),
    );
    // The children's log lines may interleave: counted in the whole text.
    const count = (re: RegExp) => log.join("\n").match(re)?.length ?? 0;
    assert.equal(count(/Received Store Request/g), files.length, "each file stored once");
    assert.equal(count(/Association Acknowledged/g), 4, "four associations");
    assert.equal(count(/Association Release/g), 4, "each released");
    const names = await filesUnder(dir);
    assert.equal(names.length, files.length);
    const seen = new Set<string>();
    for (const n of names) {
      const m = metaOf(join(dir, n));
      assert.ok(!seen.has(m.sopInstanceUid), `${m.sopInstanceUid} stored twice`);
      seen.add(m.sopInstanceUid);
      const src = bySop.get(m.sopInstanceUid)!;
      assert.ok(
        datasetBytes(join(dir, n)).equals(datasetBytes(src.path)),
        `${src.label}: dataset differs`,
      );
    }
  });

  test("deflated dataset of odd length: sent padded to even length (PS3.5 A.5), as DCMTK storescu sends it", {}, async () => {
    const src = corpus.find(isDeflated)!;
    assert.equal(
      datasetBytes(src.path).length % 2,
      1,
      "the corpus file (written by dcmconv +td) has an odd-length deflated stream",
    );
    const refDir = await mkdtemp(join(work, "defl-ref-"));
    const ref = await startStorescp({ dir: refDir, args: ["+xa", "+B"] });
    try {
      const d = await dcmtkStorescu(ref.port, [src.path]);
      assert.equal(d.code, 0, d.stderr);
    } finally {
      await ref.stop();
    }
    const want = datasetBytes(join(refDir, (await filesUnder(refDir))[0]!));
    assert.ok(
      want.equals(Buffer.concat([datasetBytes(src.path), Buffer.from([0])])),
      "DCMTK sends the stream plus one NUL byte",
    );
    const r = await sendToStorescp(["+xa", "+B"], [src.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.names.length, 1);
    assert.ok(datasetBytes(join(r.dir, r.names[0]!)).equals(want));
  });

  test("storescp without +xa (uncompressed only): uncompressed files sent or converted, compressed ones fail per file (--decompress never), -nh exits 3", async () => {
    const r = await sendToStorescp(
      ["-pm", "+B"],
      corpus.map((e) => e.path),
      ["-nh", "--decompress", "never"],
    );
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.records.length, corpus.length);
    const failed = r.records
      .filter((x) => x.status !== "Success")
      .map((x) => bySop.get(x.SOPInstanceUID as string)!.label)
      .sort();
    assert.deepEqual(
      failed,
      corpus
        .filter(isEncapsulated)
        .map((e) => e.label)
        .sort(),
      "exactly the compressed files fail",
    );
    for (const x of r.records.filter((y) => y.status !== "Success"))
      assert.match(String(x.error), /presentation context/i);
    assert.equal(r.names.length, corpus.filter((e) => !isEncapsulated(e)).length);
    let converted = 0;
    for (const n of r.names) {
      const m = metaOf(join(r.dir, n));
      const src = bySop.get(m.sopInstanceUid)!;
      if (m.transferSyntax === src.transferSyntax) {
        assert.ok(
          datasetBytes(join(r.dir, n)).equals(datasetBytes(src.path)),
          `${src.label}: sent unchanged`,
        );
      } else {
        converted++;
        assert.ok(UNCOMPRESSED.has(m.transferSyntax));
        assert.equal(
          await contentDump(join(r.dir, n)),
          await dcmconvDump(src.path, m.transferSyntax),
          `${src.label}: converted to ${m.transferSyntax} as dcmconv converts`,
        );
      }
    }
    assert.ok(converted >= 1, "the deflated file was converted");
  });

  test("storescp +xi (implicit VR only): every uncompressed file converted, same content as dcmconv +ti", async () => {
    const files = corpus.filter((e) => !isEncapsulated(e));
    const r = await sendToStorescp(
      ["-pm", "+B", "+xi"],
      files.map((e) => e.path),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.names.length, files.length);
    for (const n of r.names) {
      const m = metaOf(join(r.dir, n));
      const src = bySop.get(m.sopInstanceUid)!;
      assert.equal(m.transferSyntax, TS.ImplicitLE);
      if (src.transferSyntax === TS.ImplicitLE)
        assert.ok(
          datasetBytes(join(r.dir, n)).equals(datasetBytes(src.path)),
          `${src.label}: unchanged`,
        );
      else
        assert.equal(
          await contentDump(join(r.dir, n)),
          await dcmconvDump(src.path, TS.ImplicitLE),
          `${src.label}: as dcmconv +ti`,
        );
    }
  });

  test("halting (default; --decompress never): the first file without a presentation context stops the run, exit 1, later files unsent", async () => {
    const files = ["explicit-le-ct", "jpeg-baseline-sc", "explicit-le-multiframe"].map(
      (l) => entry(l).path,
    );
    const r = await sendToStorescp(["-pm"], files, ["--decompress", "never"]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      r.records.map((x) => x.status),
      ["Success", "Failure"],
    );
    assert.equal(r.names.length, 1);
  });

  test("peer abort during a store: exit 10, as DCMTK storescu", async () => {
    const file = entry("explicit-le-large").path;
    for (const opt of ["--abort-during", "--abort-after"]) {
      const dir = await mkdtemp(join(work, "abort-"));
      const scp = await startStorescp({ dir, args: [opt] });
      try {
        // DCMTK storescp sends A-ABORT and closes at once; when the TCP reset overtakes the PDU, DCMTK
        // storescu reports "Connection reset by peer" and exits 1. That race is the reference's, so rerun it.
        let ref = await dcmtkStorescu(scp.port, [file]);
        for (
          let i = 0;
          i < 10 && ref.code === 1 && /Connection reset by peer/.test(ref.stderr);
          i++
        )
          ref = await dcmtkStorescu(scp.port, [file]);
        const ours = await runBin("storescu-ts", [HOST, String(scp.port), file]);
        assert.equal(ref.code, 10, `DCMTK storescu ${opt}: ${ref.stderr}`);
        assert.equal(ours.code, 10, `${opt}: ${ours.stderr}`);
        assert.equal(ndjson(ours.stdout)[0]?.status, "Failure");
      } finally {
        await scp.stop();
      }
    }
  });
});

describe("storescu-ts inputs vs DCMTK storescu", { skip }, () => {
  let tree: string;
  before(async () => {
    tree = join(work, "tree");
    const gen = join(work, "tree-src");
    const made: string[] = [];
    await generateArchive({
      out: gen,
      patients: 1,
      seed: "storage-tree",
      studiesPerPatient: 1,
      seriesPerStudy: 1,
      instancesPerSeries: 5,
      rows: 8,
      layout: "flat",
      onInstance: (_n, i) => made.push(join(gen, ...i.relPath.split("/"))),
    });
    const layout = ["a.dcm", "b.DCM", "sub/c.dcm", "sub/deeper/e.dcm", "sub/f1"];
    for (const [i, rel] of layout.entries()) {
      await mkdir(dirname(join(tree, rel)), { recursive: true });
      await writeFile(join(tree, rel), await readFile(made[i]!));
    }
  });

  /** The paths each sender logs as sent: DCMTK storescu -v "Sending file:", storescu-ts Success records. */
  async function sentBy(args: string[]): Promise<{ dcmtk: string[]; ours: string[] }> {
    const dir = await mkdtemp(join(work, "tree-scp-"));
    const scp = await startStorescp({ dir });
    try {
      const d = await runDcmtk("storescu", ["-v", ...args, HOST, String(scp.port), tree]);
      const o = await runBin("storescu-ts", [...args, HOST, String(scp.port), tree]);
      const dcmtk = [...d.stderr.matchAll(/^I: Sending file: (.*)$/gm)].map((m) => m[1]!).sort();
      const ours = ndjson(o.stdout)
        .filter((x) => x.status === "Success")
        .map((x) => String(x.path))
        .sort();
      assert.equal(o.code, d.code, `exit codes: ${d.stderr}\n${o.stderr}`);
      return { dcmtk, ours };
    } finally {
      await scp.stop();
    }
  }

  for (const args of [
    ["+sd"],
    ["+sd", "+r"],
    ["+sd", "+r", "+sp", "*.dcm"],
    ["+sd", "+sp", "*.DCM"],
    ["+sd", "+r", "+sp", "[a-c]*"],
    ["+sd", "+r", "+sp", "f?"],
  ]) {
    test(`${args.join(" ")}: the same files as DCMTK storescu`, async () => {
      const r = await sentBy(args);
      assert.ok(r.dcmtk.length > 0);
      assert.deepEqual(r.ours, r.dcmtk);
    });
  }

  test("a directory without +sd: nothing to send, exit 1 like DCMTK", async () => {
    const r = await sentBy([]);
    assert.deepEqual(r.ours, []);
    assert.deepEqual(r.dcmtk, []);
  });

  async function withBad() {
    const dir = await mkdtemp(join(work, "bad-"));
    const files = [join(dir, "1good.dcm"), join(dir, "2bad.dcm"), join(dir, "3good.dcm")];
    await writeFile(files[0]!, await readFile(entry("explicit-le-ct").path));
    await writeFile(files[1]!, "not a DICOM file\n");
    await writeFile(files[2]!, await readFile(entry("explicit-le-multiframe").path));
    return files;
  }

  async function storedBy(cmd: "dcmtk" | "ours", args: string[], files: string[]) {
    const dir = await mkdtemp(join(work, "bad-scp-"));
    const scp = await startStorescp({ dir });
    try {
      const r =
        cmd === "dcmtk"
          ? await runDcmtk("storescu", [...args, HOST, String(scp.port), ...files])
          : await runBin("storescu-ts", [...args, HOST, String(scp.port), ...files]);
      return {
        code: r.code,
        stored: (await filesUnder(dir)).map((n) => metaOf(join(dir, n)).sopInstanceUid).sort(),
      };
    } finally {
      await scp.stop();
    }
  }

  test("-nh: the non-DICOM file is skipped, the others sent (DCMTK exits 0, storescu-ts 3)", async () => {
    const files = await withBad();
    const d = await storedBy("dcmtk", ["-nh"], files);
    const o = await storedBy("ours", ["-nh"], files);
    assert.equal(d.code, 0);
    assert.equal(o.code, 3);
    assert.equal(d.stored.length, 2);
    assert.deepEqual(o.stored, d.stored);
  });

  test("halting: a non-DICOM file stops the run before anything is sent, exit 1, as DCMTK storescu -R (which reads the files first)", async () => {
    const files = await withBad();
    // Without -R, DCMTK storescu sends the files before the bad one, then halts.
    const plain = await storedBy("dcmtk", [], files);
    assert.equal(plain.code, 1);
    assert.equal(plain.stored.length, 1);
    const d = await storedBy("dcmtk", ["-R"], files);
    assert.equal(d.code, 1);
    assert.deepEqual(d.stored, []);
    for (const args of [[], ["-R"]]) {
      const o = await storedBy("ours", args, files);
      assert.equal(o.code, 1);
      assert.deepEqual(o.stored, d.stored);
    }
  });
});

// ---------------------------------------------------------------------------

describe("storescu-ts -> Orthanc", { skip: skipOrthanc }, () => {
  let ours: OrthancPeer;
  let ref: OrthancPeer;
  before(async () => {
    [ours, ref] = await Promise.all([startOrthanc(), startOrthanc({ aet: "ORTHANCREF" })]);
  });
  after(async () => {
    await Promise.all([ours?.stop(), ref?.stop()]);
  });

  async function storedFile(
    peer: OrthancPeer,
    sopInstanceUid: string,
  ): Promise<Buffer | undefined> {
    const found = (await peer.rest("/tools/lookup", {
      method: "POST",
      body: sopInstanceUid,
    })) as Array<{ ID: string; Type: string }>;
    const inst = found?.find((f) => f.Type === "Instance");
    if (!inst) return undefined;
    const res = await fetch(`http://${HOST}:${peer.httpPort}/instances/${inst.ID}/file`);
    assert.equal(res.status, 200);
    return Buffer.from(await res.arrayBuffer());
  }

  test("every file (deflated aside) stored; Orthanc's copy identical to its copy of the same file from DCMTK storescu, and to the source where Orthanc keeps it", async (t) => {
    const files = corpus.filter((e) => !isDeflated(e));
    const [a, b] = await Promise.all([
      runBin(
        "storescu-ts",
        ["-aec", ours.aet, HOST, String(ours.port), ...files.map((e) => e.path)],
        { timeoutMs: 60_000 },
      ),
      dcmtkStorescu(
        ref.port,
        files.map((e) => e.path),
        ["-aec", ref.aet],
      ),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(ndjson(a.stdout).filter((x) => x.status === "Success").length, files.length);
    const stats = (await ours.rest("/statistics")) as { CountInstances: number };
    assert.equal(stats.CountInstances, files.length);
    const rewritten: string[] = [];
    for (const e of files) {
      const got = await storedFile(ours, e.sopInstanceUid);
      const want = await storedFile(ref, e.sopInstanceUid);
      assert.ok(got && want, `${e.label}: stored`);
      assert.equal(
        readMeta(got).transferSyntax,
        e.transferSyntax,
        `${e.label}: kept in its own syntax`,
      );
      assert.ok(
        datasetOf(got).equals(datasetOf(want)),
        `${e.label}: differs from Orthanc's copy of DCMTK's transmission`,
      );
      if (!datasetOf(got).equals(datasetBytes(e.path))) rewritten.push(e.label);
    }
    t.diagnostic(`re-encoded by Orthanc on storage: ${rewritten.join(", ") || "none"}`);
  });

  test("deflated dataset of odd length is stored by Orthanc", {}, async () => {
    const src = corpus.find(isDeflated)!;
    const r = await runBin("storescu-ts", [
      "-td",
      "5",
      "-aec",
      ours.aet,
      HOST,
      String(ours.port),
      src.path,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await storedFile(ours, src.sopInstanceUid));
  });
});

// ---------------------------------------------------------------------------

describe("8 simultaneous senders x 250 files into one storescp-ts", { skip }, () => {
  let groups: string[][];
  let sources: Map<string, string>;
  before(async () => {
    const dir = join(work, "many");
    const paths: string[] = [];
    await generateArchive({
      out: dir,
      patients: 100,
      seed: "storage-concurrency",
      studiesPerPatient: 1,
      seriesPerStudy: 2,
      instancesPerSeries: 10,
      maxInstances: 2000,
      rows: 32,
      layout: "flat",
      onInstance: (_n, i) => paths.push(join(dir, ...i.relPath.split("/"))),
    });
    assert.equal(paths.length, 2000);
    groups = Array.from({ length: 8 }, (_, g) => paths.slice(g * 250, g * 250 + 250));
    sources = new Map(paths.map((p) => [metaOf(p).sopInstanceUid, p]));
  });

  async function check(od: string, stdout: string) {
    const names = await filesUnder(od);
    assert.equal(names.length, 2000, "every instance stored");
    const records = ndjson(stdout);
    assert.equal(records.length, 2000, "exactly 2000 NDJSON records");
    assert.equal(new Set(records.map((r) => r.SOPInstanceUID)).size, 2000);
    assert.equal(new Set(records.map((r) => r.path)).size, 2000);
    for (const n of names) {
      const m = metaOf(join(od, n));
      const src = sources.get(m.sopInstanceUid);
      assert.ok(src, `${n}: not a sent instance`);
      assert.ok(
        datasetBytes(join(od, n)).equals(datasetBytes(src)),
        `${n}: dataset differs from the source`,
      );
    }
  }

  test("DCMTK storescu x 8: all 2000 stored, none lost, byte-identical", async () => {
    const od = await mkdtemp(join(work, "conc-dcmtk-"));
    const scp = await startStorescpTs([], { od });
    const rs = await Promise.all(
      groups.map((g) =>
        runDcmtk("storescu", ["-aet", "SENDER", HOST, String(scp.port), ...g], {
          timeoutMs: 120_000,
        }),
      ),
    );
    const exit = await scp.stop();
    for (const r of rs) assert.equal(r.code, 0, r.stderr);
    assert.equal(exit.code, 0, exit.stderr);
    await check(od, exit.stdout);
  });

  test("storescu-ts x 8 (paths on stdin): all 2000 stored, none lost, byte-identical", async () => {
    const od = await mkdtemp(join(work, "conc-ts-"));
    const scp = await startStorescpTs([], { od });
    const rs = await Promise.all(
      groups.map((g) =>
        runBin("storescu-ts", [HOST, String(scp.port)], {
          input: `${g.join("\n")}\n`,
          timeoutMs: 120_000,
        }),
      ),
    );
    const exit = await scp.stop();
    for (const r of rs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(ndjson(r.stdout).filter((x) => x.status === "Success").length, 250);
    }
    assert.equal(exit.code, 0, exit.stderr);
    await check(od, exit.stdout);
  });
});

// ---------------------------------------------------------------------------

describe("write failures: a failure status to the sender, never Success, no partial file", {
  skip,
}, () => {
  const failureClass = (code: string) => {
    const s = parseInt(code, 16);
    return (s & 0xf000) === 0xa000 || (s & 0xf000) === 0xc000;
  };

  test("output file system full (tmpfs): storescu-ts and DCMTK storescu get a failure status and exit status >> 8", async (t) => {
    const mnt = await mkdtemp(join(work, "tmpfs-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], { stdio: "ignore" });
    } catch {
      t.skip("cannot mount a tmpfs here (needs root)");
      return;
    }
    try {
      const scp = await startStorescpTs([], { od: mnt });
      let exit;
      try {
        // The output directory fills up after storescp-ts started.
        const filler = Buffer.alloc(16 * 1024, 1);
        for (let i = 0; ; i++) {
          try {
            await writeFile(join(mnt, `filler-${i}`), filler);
          } catch {
            break;
          }
        }
        const big = entry("explicit-le-large").path; // 530 kB
        const ours = await runBin("storescu-ts", [HOST, String(scp.port), big]);
        const rec = ndjson(ours.stdout)[0]!;
        t.diagnostic(`storescu-ts: ${JSON.stringify(rec)}`);
        assert.equal(rec.status, "Failure", JSON.stringify(rec));
        assert.ok(
          failureClass(String(rec.statusCode)),
          `status ${String(rec.statusCode)} is 0xA7xx or 0xCxxx`,
        );
        assert.equal(ours.code, parseInt(String(rec.statusCode), 16) >> 8, ours.stderr);
        const ref = await dcmtkStorescu(scp.port, [big]);
        assert.equal(ref.code, ours.code, `DCMTK storescu exits status >> 8 too: ${ref.stderr}`);
      } finally {
        exit = await scp.stop();
      }
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(ndjson(exit.stdout).length, 0, "no record for a failed store");
      const left = (await filesUnder(mnt, { hidden: true })).filter((n) => !/^filler-\d+$/.test(n));
      assert.deepEqual(left, [], "no partial or temporary file left");
    } finally {
      execFileSync("umount", [mnt], { stdio: "ignore" });
    }
  });

  test("--layout target under a regular file: 0xC000-class failure, halting exit status >> 8, -nh exits 3, nothing written", async () => {
    const od = await mkdtemp(join(work, "blocked-"));
    await writeFile(join(od, "blocked"), "a regular file\n");
    const scp = await startStorescpTs(["--layout", "blocked/{SOPInstanceUID}.dcm"], { od });
    let exit;
    try {
      const files = ["explicit-le-ct", "big-endian-cr"].map((l) => entry(l).path);
      const halt = await runBin("storescu-ts", [HOST, String(scp.port), ...files]);
      const recs = ndjson(halt.stdout);
      assert.equal(recs.length, 1, "halts after the first failure");
      assert.equal(recs[0]!.status, "Failure");
      assert.ok(failureClass(String(recs[0]!.statusCode)), String(recs[0]!.statusCode));
      assert.equal(halt.code, parseInt(String(recs[0]!.statusCode), 16) >> 8, halt.stderr);
      const ref = await dcmtkStorescu(scp.port, files);
      assert.equal(ref.code, halt.code, `DCMTK storescu: ${ref.stderr}`);
      const nh = await runBin("storescu-ts", ["-nh", HOST, String(scp.port), ...files]);
      assert.equal(nh.code, 3, nh.stderr);
      assert.deepEqual(
        ndjson(nh.stdout).map((x) => x.status),
        ["Failure", "Failure"],
      );
    } finally {
      exit = await scp.stop();
    }
    assert.equal(exit.code, 0);
    assert.equal(ndjson(exit.stdout).length, 0);
    assert.deepEqual(await filesUnder(od, { hidden: true }), ["blocked"]);
  });
});

// ---------------------------------------------------------------------------

describe("path traversal: values from the dataset stay inside the output directory", {
  skip,
}, () => {
  /** Values written into PatientID, StudyDescription and SeriesDescription (LO, ≤ 32 bytes here). */
  const EVIL: Array<[string, string, string]> = [
    ["../../../../../../tmp/escape-a", "..", "."],
    ["/etc/cron.d/escape-b", "\\..\\..\\escape-b", "a/../../b"],
    ["a\0../../../escape-c", "\x01\x02\x1f\x7f", "\n..\n"],
    ["CON", "NUL", "nul.txt"],
    ["com1", "LPT9.log", "aux"],
    ["....", " .. ", "../"],
    ["..\\..", "./../.", "%2e%2e%2fescape-f"],
  ];
  const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

  /** Copies of a corpus file with patched values (same lengths) and new SOP Instance UIDs. */
  async function evilFiles(dir: string): Promise<string[]> {
    const base = join(work, "evil-base.dcm");
    const PH = (c: string) => c.repeat(32);
    const dump = [
      "(0008,0016) UI =SecondaryCaptureImageStorage",
      "(0008,0018) UI [2.25.999000000000000000000000000000000001]",
      "(0008,0060) CS [OT]",
      `(0008,1030) LO [${PH("S")}]`,
      `(0008,103e) LO [${PH("R")}]`,
      "(0010,0010) PN [Traversal^Test]",
      `(0010,0020) LO [${PH("P")}]`,
      "(0020,000d) UI [2.25.999000000000000000000000000000000002]",
      "(0020,000e) UI [2.25.999000000000000000000000000000000003]",
    ];
    await writeFile(join(work, "evil.txt"), `${dump.join("\n")}\n`);
    const d = await runDcmtk("dump2dcm", ["+te", join(work, "evil.txt"), base]);
    assert.equal(d.code, 0, d.stderr);
    const buf = await readFile(base);
    const out: string[] = [];
    for (const [i, [p, s, r]] of EVIL.entries()) {
      const b = Buffer.from(buf);
      const patch = (ph: string, v: string) => {
        const at = b.indexOf(ph);
        assert.ok(at > 0 && Buffer.byteLength(v, "latin1") <= 32);
        b.write(v.padEnd(32, " "), at, "latin1");
      };
      patch(PH("P"), p);
      patch(PH("S"), s);
      patch(PH("R"), r);
      // Same length UIDs: ...0001 -> ...1xx1 (meta and dataset)
      const uid = `2.25.999000000000000000000000000000001${String(i).padStart(2, "0")}1`;
      let at = -1;
      while ((at = b.indexOf("2.25.999000000000000000000000000000000001", at + 1)) >= 0)
        b.write(uid, at, "latin1");
      const f = join(dir, `evil-${i}.dcm`);
      await writeFile(f, b);
      out.push(f);
    }
    return out;
  }

  function assertSafe(od: string, rel: string) {
    for (const c of rel.split("/")) {
      assert.ok(c !== "." && c !== "..", `${rel}: ${c}`);
      assert.ok(!/[\x00-\x1f\x7f]/.test(c), `${JSON.stringify(rel)}: control character`);
      assert.ok(!RESERVED.test(c), `${rel}: reserved device name ${c}`);
    }
    assert.ok(join(od, rel).startsWith(od + sep));
  }

  for (const layout of [
    "{PatientID}/{StudyDescription}/{SeriesDescription}/{SOPInstanceUID}.dcm",
    "{PatientID}{StudyDescription}/{SeriesDescription}-{PatientID}.dcm",
    "hierarchy",
  ]) {
    test(`--layout '${layout}'`, async (t) => {
      const root = await realpath(await mkdtemp(join(work, "trav-")));
      const od = join(root, "a", "b", "od");
      await mkdir(od, { recursive: true });
      const src = await mkdtemp(join(work, "evil-"));
      const files = await evilFiles(src);
      const scp = await startStorescpTs(["--layout", layout], { od });
      let exit;
      try {
        const r = await runDcmtk("storescu", [HOST, String(scp.port), ...files]);
        assert.equal(r.code, 0, `${r.stderr}\n${scp.stderr()}`);
      } finally {
        exit = await scp.stop();
      }
      assert.equal(exit.code, 0, exit.stderr);
      const stored = await filesUnder(od, { hidden: true });
      t.diagnostic(stored.map((n) => JSON.stringify(n)).join(" "));
      assert.equal(stored.length, files.length, stored.join("\n"));
      for (const rel of stored) assertSafe(od, rel);
      for (const rec of ndjson(exit.stdout))
        assert.ok(String(rec.path).startsWith(od + sep), String(rec.path));
      assert.deepEqual(
        await filesUnder(root, { hidden: true }),
        stored.map((s) => `a/b/od/${s}`),
        "nothing written outside the output directory",
      );
      for (const p of [
        "/tmp/escape-a",
        "/etc/cron.d/escape-b",
        join(root, "a", "escape-b"),
        join(root, "escape-c"),
      ]) {
        await assert.rejects(stat(p), `${p} must not exist`);
      }
    });
  }

  test("DCMTK-style names: SOP and Study Instance UIDs made of ../ stay inside (default names, -su '', -sp)", async () => {
    const root = await realpath(await mkdtemp(join(work, "trav-uid-")));
    const src = await mkdtemp(join(work, "evil-uid-"));
    const files = await evilFiles(src);
    // Same-length replacements of the SOP and Study Instance UIDs (meta and dataset).
    const pad = (v: string) => v.padEnd(41, "/");
    for (const [i, f] of files.entries()) {
      const b = await readFile(f);
      const rep = (from: string, to: string) => {
        for (let at = b.indexOf(from); at >= 0; at = b.indexOf(from, at + 1))
          b.write(to, at, "latin1");
      };
      rep(
        `2.25.999000000000000000000000000000001${String(i).padStart(2, "0")}1`,
        pad(`${"../".repeat(10)}esc-sop-${i}`),
      );
      rep("2.25.999000000000000000000000000000000002", pad(`${"../".repeat(9)}tmp/esc-study`));
      await writeFile(f, b);
    }
    for (const [k, args] of [[], ["-su", ""], ["-su", "P"], ["-sp"]].entries()) {
      const od = join(root, String(k), "od");
      await mkdir(od, { recursive: true });
      const scp = await startStorescpTs(args, { od });
      let exit;
      try {
        const r = await runDcmtk("storescu", [HOST, String(scp.port), ...files]);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}\n${scp.stderr()}`);
      } finally {
        exit = await scp.stop();
      }
      assert.equal(exit.code, 0, exit.stderr);
      const stored = await filesUnder(od, { hidden: true });
      assert.equal(stored.length, files.length, `${args.join(" ")}: ${stored.join("\n")}`);
      for (const rel of stored) assertSafe(od, rel);
      assert.deepEqual(
        await filesUnder(join(root, String(k)), { hidden: true }),
        stored.map((x) => `od/${x}`),
      );
    }
    await assert.rejects(stat("/tmp/esc-study"));
  });
});

// ---------------------------------------------------------------------------

describe("association rejected by storescp-ts --accept-calling", { skip }, () => {
  test("storescu-ts exits 61; DCMTK storescu sees 'Calling AE Title Not Recognized'; allowed AEs store", async () => {
    const od = await mkdtemp(join(work, "allow-"));
    const scp = await startStorescpTs(["--accept-calling", "GOOD,ALSO_GOOD"], { od });
    let exit;
    const file = entry("explicit-le-ct").path;
    try {
      const ours = await runBin("storescu-ts", ["-aet", "EVIL", HOST, String(scp.port), file]);
      assert.equal(ours.code, 61, ours.stderr);
      const ref = await dcmtkStorescu(scp.port, [file], ["-aet", "EVIL"]);
      assert.equal(ref.code, 1, "DCMTK storescu exits 1 on rejection");
      assert.match(ref.stderr, /Association Rejected/);
      assert.match(ref.stderr, /Calling AE Title Not Recognized/);
      assert.deepEqual(await filesUnder(od), []);
      const ok = await runBin("storescu-ts", ["-aet", "ALSO_GOOD", HOST, String(scp.port), file]);
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      exit = await scp.stop();
    }
    assert.equal(ndjson(exit.stdout).length, 1);
    assert.equal(ndjson(exit.stdout)[0]!.callingAet, "ALSO_GOOD");
  });
});
