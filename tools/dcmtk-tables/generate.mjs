#!/usr/bin/env node
// Re-creates packages/dimse/src/dicom/uid-table.ts from tools/dcmtk-tables/ps36-uids.tsv
// (PS3.6 Table A-1) by asking the installed DCMTK (3.6.7 expected):
//   1. dcmdump's display name of every UID ("=CTImageStorage"), via one dataset holding
//      one sequence item per UID;
//   2. storescp's file-name prefix of every SOP class ("CT" in "CT.<SOPInstanceUID>"), by
//      sending a minimal instance of each class with storescu to `storescp -pm` on 127.0.0.1.
// Usage: node tools/dcmtk-tables/generate.mjs [--out <file.ts>] [--keep]
// Needs dump2dcm, dcmdump, storescu, storescp and echoscu on PATH. No npm dependencies.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
const outFile =
  outIdx >= 0 ? resolve(args[outIdx + 1]) : join(repoRoot, "packages/dimse/src/dicom/uid-table.ts");
const keep = args.includes("--keep");

/** Storage SOP classes: PS3.6 "... Storage", "... Storage - For Presentation/Processing", trial/retired variants. */
const STORAGE_KEYWORD = /Storage(ForPresentation|ForProcessing|Trial|Retired)?$/;
/**
 * UIDs outside PS3.6 that are probed too: DCMTK 3.6.7 names exactly one of them (a GE private
 * transfer syntax); its own private UIDs (1.2.276.0.7230010.3...) have no name in dcmdump.
 */
const EXTRA_UIDS = [
  { uid: "1.2.840.113619.5.2", type: "Transfer Syntax", keyword: "", retired: false }, // GE private
  { uid: "1.2.276.0.7230010.3.1.0.1", type: "SOP Class", keyword: "", retired: false }, // DCMTK generic file / findscu -X
];
const UNKNOWN_PROBE_UID = "1.2.3.4.5.6"; // a made-up SOP class, to learn storescp's fallback prefix
const INSTANCE_ROOT = "1.2.3.999"; // instance UIDs of the probe files: <root>.<n>
const BATCH = 100; // < 128 presentation contexts per association
const env = { ...process.env, TCP_NODELAY: "1" };

function log(msg) {
  process.stderr.write(`[dcmtk-tables] ${msg}\n`);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: "utf8", env, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function mustRun(cmd, argv, opts) {
  const r = run(cmd, argv, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} exited ${r.status}:\n${r.stderr}`);
  return r;
}

// ---------------------------------------------------------------- input
function readPs36() {
  const rows = [];
  const text = readFileSync(join(here, "ps36-uids.tsv"), "utf8");
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#") || line.startsWith("uid\t")) continue;
    const [uid, type, keyword = "", retired = ""] = line.split("\t");
    rows.push({ uid, type, keyword, retired: retired === "Y" });
  }
  const known = new Set(rows.map((r) => r.uid));
  return [...rows, ...EXTRA_UIDS.filter((r) => !known.has(r.uid))];
}

// ---------------------------------------------------------------- phase 1: names
function dcmtkNames(uids, work) {
  const lines = [`(0008,1199) SQ (Sequence with undefined length #=${uids.length})`];
  for (const uid of uids) {
    lines.push("  (fffe,e000) na (Item with undefined length #=1)");
    lines.push(`    (0008,1150) UI [${uid}]`);
    lines.push("  (fffe,e00d) na (ItemDelimitationItem)");
  }
  lines.push("(fffe,e0dd) na (SequenceDelimitationItem)");
  const dump = join(work, "names.dump");
  const dcm = join(work, "names.dcm");
  writeFileSync(dump, `${lines.join("\n")}\n`);
  mustRun("dump2dcm", ["-q", "-F", "+te", dump, dcm]);
  // +L: never shorten long values; +Un (default) maps UIDs to names, -Un does not.
  const named = parseItemValues(mustRun("dcmdump", ["+L", "+Un", "-f", dcm]).stdout);
  const raw = parseItemValues(mustRun("dcmdump", ["+L", "-Un", "-f", dcm]).stdout);
  if (named.length !== uids.length || raw.length !== uids.length) {
    throw new Error(
      `dcmdump returned ${named.length}/${raw.length} values for ${uids.length} UIDs`,
    );
  }
  // Also record what a default (shortening) dcmdump prints, to spot truncated names.
  const shortened = parseItemValues(mustRun("dcmdump", ["-f", dcm]).stdout);
  const names = new Map();
  const truncated = [];
  uids.forEach((uid, i) => {
    if (raw[i] !== `[${uid}]`)
      throw new Error(`dcmdump order mismatch at ${i}: ${raw[i]} vs ${uid}`);
    const v = named[i];
    if (v.startsWith("=")) names.set(uid, v.slice(1));
    else if (v !== `[${uid}]`) throw new Error(`unexpected dcmdump value for ${uid}: ${v}`);
    if (shortened[i] !== v) truncated.push(`${uid} ${shortened[i]}`);
  });
  return { names, truncated };
}

function parseItemValues(stdout) {
  const out = [];
  for (const line of stdout.split("\n")) {
    const m = /^\s*\(0008,1150\) UI (.*?)\s*#\s*\d+,\s*\d+ ReferencedSOPClassUID\s*$/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}

// ---------------------------------------------------------------- phase 2: prefixes
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startStorescp(outDir, assocArgs) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn("storescp", [...assocArgs, "-od", outDir, "-dhl", String(port)], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let exited = false;
    child.once("exit", () => (exited = true));
    for (let i = 0; i < 50 && !exited; i++) {
      await sleep(100);
      const r = run("echoscu", ["-to", "2", "-aec", "STORESCP", "127.0.0.1", String(port)]);
      if (r.status === 0) return { child, port };
    }
    child.kill("SIGTERM");
    log(`storescp on port ${port} did not come up: ${stderr.trim()}`);
  }
  throw new Error("could not start storescp");
}

function stopStorescp(child) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const t = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(t);
      res();
    });
    child.kill("SIGTERM");
  });
}

function makeProbeFiles(classUids, inDir) {
  const files = [];
  classUids.forEach((classUid, n) => {
    const inst = `${INSTANCE_ROOT}.${n + 1}`;
    const dump = join(inDir, `p${n + 1}.dump`);
    const dcm = join(inDir, `p${n + 1}.dcm`);
    writeFileSync(
      dump,
      `${[
        `(0008,0016) UI [${classUid}]`,
        `(0008,0018) UI [${inst}]`,
        "(0010,0010) PN [TABLES^PROBE]",
        "(0010,0020) LO [PROBE]",
        `(0020,000d) UI [${INSTANCE_ROOT}.0.1]`,
        `(0020,000e) UI [${INSTANCE_ROOT}.0.2]`,
      ].join("\n")}\n`,
    );
    mustRun("dump2dcm", ["-q", "+te", dump, dcm]);
    files.push({ classUid, inst, file: dcm });
  });
  return files;
}

function chunks(list, n) {
  const out = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

/**
 * storescu -R +C -v; returns the files storescu refused ("unknown storage SOP class") and, per file,
 * the modality storescu logs (its dcmSOPClassUIDToModality(), the function storescp names files with):
 * "Sending Store Request (MsgID n, CT)" or, when the SCP rejected the context, "No presentation
 * context for: (CT) <uid>" (DCMTK logs the UID's name there instead when it has no modality).
 */
function sendRequired(port, files, logged = new Map()) {
  const refused = new Set();
  for (const batch of chunks(files, BATCH)) {
    const r = run("storescu", [
      "-v",
      "-R",
      "+C",
      "-nh",
      "127.0.0.1",
      String(port),
      ...batch.map((f) => f.file),
    ]);
    parseStorescuLog(r.stderr, refused, logged);
  }
  return { refused, logged };
}

function parseStorescuLog(stderr, refused, logged) {
  let current;
  for (const line of stderr.split("\n")) {
    let m;
    if ((m = /unknown storage SOP class in file: (.*?): [0-9.]+, ignoring file/.exec(line)))
      refused.add(m[1]);
    else if ((m = /^I: Sending file: (.*)$/.exec(line))) current = m[1];
    else if ((m = /Sending Store Request \(MsgID \d+, (.*)\)$/.exec(line)) && current)
      logged.set(current, { sent: m[1] });
    else if ((m = /No presentation context for: \((.*)\) [0-9.]+$/.exec(line)) && current)
      logged.set(current, { rejected: m[1] });
  }
}

/** storescu with an association profile naming the SOP classes explicitly (sends unknown classes). */
function sendWithProfile(port, files, work, tag, logged) {
  for (const [b, batch] of chunks(files, BATCH).entries()) {
    const cfgFile = join(work, `storescu-${tag}-${b}.cfg`);
    writeProfile([...new Set(batch.map((f) => f.classUid))], cfgFile);
    const r = run("storescu", [
      "-v",
      "-xf",
      cfgFile,
      "Probe",
      "-nh",
      "127.0.0.1",
      String(port),
      ...batch.map((f) => f.file),
    ]);
    parseStorescuLog(r.stderr, new Set(), logged);
  }
}

function writeProfile(classes, file) {
  writeFileSync(
    file,
    [
      "[[TransferSyntaxes]]",
      "[Uncompressed]",
      "TransferSyntax1 = LittleEndianExplicit",
      "TransferSyntax2 = LittleEndianImplicit",
      "",
      "[[PresentationContexts]]",
      "[Probe]",
      ...classes.map((c, i) => `PresentationContext${i + 1} = ${c}\\Uncompressed`),
      "",
      "[[Profiles]]",
      "[Probe]",
      "PresentationContexts = Probe",
      "",
    ].join("\n"),
  );
}

function receivedPrefixes(outDir, files) {
  const byInst = new Map(files.map((f) => [f.inst, f]));
  const prefixes = new Map();
  for (const name of readdirSync(outDir)) {
    const at = name.lastIndexOf(`.${INSTANCE_ROOT}.`);
    const f = at >= 0 ? byInst.get(name.slice(at + 1)) : undefined;
    if (f) prefixes.set(f.classUid, name.slice(0, at));
  }
  return prefixes;
}

async function dcmtkPrefixes(classUids, work) {
  const inDir = join(work, "in");
  const outDir = join(work, "out");
  mkdirSync(inDir);
  mkdirSync(outDir);
  const files = makeProbeFiles([...classUids, UNKNOWN_PROBE_UID], inDir);
  const main = files.filter((f) => f.classUid !== UNKNOWN_PROBE_UID);
  const logged = new Map();
  const route = new Map(); // classUid -> how it was received
  const collect = (how) => {
    const got = receivedPrefixes(outDir, files);
    for (const uid of got.keys()) if (!route.has(uid)) route.set(uid, how);
    return got;
  };

  // 1. storescp -pm: storescu -R +C in batches, then one by one what did not arrive.
  const a = await startStorescp(outDir, ["-pm"]);
  let refusedFiles;
  try {
    log(`storescp -pm listening on 127.0.0.1:${a.port}`);
    ({ refused: refusedFiles } = sendRequired(a.port, main, logged));
    let got = collect("storescu -R +C -> storescp -pm");
    for (const f of main.filter((f) => !got.has(f.classUid))) sendRequired(a.port, [f], logged);
    got = collect("storescu -R +C (single) -> storescp -pm");
    // 2. what storescu refuses (not a DCMTK storage class), plus the made-up class: explicit profile.
    sendWithProfile(
      a.port,
      files.filter((f) => !got.has(f.classUid)),
      work,
      "pm",
      logged,
    );
    collect("storescu -xf -> storescp -pm");
  } finally {
    await stopStorescp(a.child);
  }

  // 3. storescp -pm rejects classes DCMTK has a name for but does not accept as storage:
  //    a second storescp that accepts exactly those classes through a profile (-xf).
  let got = receivedPrefixes(outDir, files);
  const rest = main.filter((f) => !got.has(f.classUid));
  if (rest.length > 0) {
    const cfg = join(work, "storescp.cfg");
    // (+ Verification, so that echoscu can tell when it is listening)
    writeProfile([...new Set(["1.2.840.10008.1.1", ...rest.map((f) => f.classUid)])], cfg);
    const b = await startStorescp(outDir, ["-xf", cfg, "Probe"]);
    try {
      log(`storescp -xf listening on 127.0.0.1:${b.port} for ${rest.length} classes`);
      sendWithProfile(b.port, rest, work, "xf", logged);
      got = collect("storescu -xf -> storescp -xf");
    } finally {
      await stopStorescp(b.child);
    }
  }
  const modality = new Map(
    files.filter((f) => logged.has(f.file)).map((f) => [f.classUid, logged.get(f.file)]),
  );
  return {
    prefixes: got,
    route,
    modality,
    refusedByStorescu: main.filter((f) => refusedFiles.has(f.file)).map((f) => f.classUid),
    unsendable: main.filter((f) => !got.has(f.classUid)).map((f) => f.classUid),
    fallback: got.get(UNKNOWN_PROBE_UID),
  };
}

// ---------------------------------------------------------------- output
function q(s) {
  return JSON.stringify(s);
}

function renderTs(rows, names, prefixes, fallback, dcmtkVersion) {
  const out = [];
  out.push(
    "// Generated by tools/dcmtk-tables/generate.mjs from PS3.6 Table A-1 (tools/dcmtk-tables/ps36-uids.tsv)",
    `// and DCMTK ${dcmtkVersion} (dcmdump UID names, storescp file-name prefixes). Do not edit.`,
    '// Columns: UID, PS3.6 keyword, DCMTK name as dcmdump prints it after "=", storescp file-name',
    '// prefix ("<prefix>.<SOPInstanceUID>"), PS3.6 UID type. Empty string = none / unknown to DCMTK.',
    "",
    "export type UidTableEntry = readonly [uid: string, keyword: string, dcmtkName: string, prefix: string, type: string];",
    "",
    "/** storescp's file-name prefix for a SOP class it has no modality for. */",
    `export const DCMTK_UNKNOWN_PREFIX = ${q(fallback ?? "")};`,
    "",
    "export const UID_TABLE: ReadonlyArray<UidTableEntry> = [",
  );
  for (const r of rows) {
    out.push(
      `  [${q(r.uid)}, ${q(r.keyword)}, ${q(names.get(r.uid) ?? "")}, ${q(prefixes.get(r.uid) ?? "")}, ${q(r.type)}],`,
    );
  }
  out.push("];", "");
  out.push("/** UIDs PS3.6 lists as retired. */");
  out.push("export const RETIRED_UIDS: readonly string[] = [");
  for (const group of chunks(
    rows.filter((r) => r.retired).map((r) => q(r.uid)),
    4,
  ))
    out.push(`  ${group.join(", ")},`);
  out.push("];", "");
  out.push(
    `const STORAGE_KEYWORD = ${STORAGE_KEYWORD};`,
    `const MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"; // DICOMDIR: a file-set object, not sent over the network`,
    "",
    "let byUid: Map<string, UidTableEntry> | undefined;",
    "let retired: Set<string> | undefined;",
    "let storage: readonly string[] | undefined;",
    "",
    "function entry(uid: string): UidTableEntry | undefined {",
    "  byUid ??= new Map(UID_TABLE.map((e) => [e[0], e]));",
    "  return byUid.get(uid);",
    "}",
    "",
    '/** PS3.6 keyword of a UID (e.g. "CTImageStorage"), undefined when unknown. */',
    "export function uidKeyword(uid: string): string | undefined {",
    "  return entry(uid)?.[1] || undefined;",
    "}",
    "",
    '/** DCMTK\'s name of a UID as dcmdump prints it after "=", undefined when DCMTK prints the bare [uid]. */',
    "export function dcmtkUidName(uid: string): string | undefined {",
    "  return entry(uid)?.[2] || undefined;",
    "}",
    "",
    "/**",
    ' * storescp\'s file-name prefix for a SOP class ("CT" for "CT.<SOPInstanceUID>"), undefined when DCMTK',
    " * has none (storescp then uses DCMTK_UNKNOWN_PREFIX).",
    " */",
    "export function dcmtkPrefix(sopClassUid: string): string | undefined {",
    "  return entry(sopClassUid)?.[3] || undefined;",
    "}",
    "",
    "/** Whether PS3.6 lists the UID as retired. */",
    "export function isRetiredUid(uid: string): boolean {",
    "  retired ??= new Set(RETIRED_UIDS);",
    "  return retired.has(uid);",
    "}",
    "",
    '/** PS3.6 type of a UID ("SOP Class", "Transfer Syntax", ...), undefined when unknown. */',
    "export function uidType(uid: string): string | undefined {",
    "  return entry(uid)?.[4] || undefined;",
    "}",
    "",
    "/**",
    " * Storage SOP classes (type SOP Class, keyword ending in Storage, StorageForPresentation,",
    " * StorageForProcessing, StorageTrial or StorageRetired; not the DICOMDIR class), non-retired first,",
    " * each group in PS3.6 order. More than 128: callers proposing contexts must pick a subset.",
    " */",
    "export function storageSopClasses(): readonly string[] {",
    "  if (!storage) {",
    "    const all = UID_TABLE.filter(",
    '      (e) => e[4] === "SOP Class" && STORAGE_KEYWORD.test(e[1]) && e[0] !== MEDIA_STORAGE_DIRECTORY,',
    "    ).map((e) => e[0]);",
    "    storage = [...all.filter((u) => !isRetiredUid(u)), ...all.filter((u) => isRetiredUid(u))];",
    "  }",
    "  return storage;",
    "}",
    "",
  );
  return out.join("\n");
}

// ---------------------------------------------------------------- main
async function main() {
  const ver = mustRun("dcmdump", ["--version"]).stdout;
  const dcmtkVersion = /dcmdump v(\d+\.\d+\.\d+)/.exec(ver)?.[1] ?? "unknown";
  if (dcmtkVersion !== "3.6.7")
    log(`warning: DCMTK ${dcmtkVersion} (tables were specified against 3.6.7)`);
  const rows = readPs36();
  const work = mkdtempSync(join(tmpdir(), "dcmtk-tables-"));
  const cleanup = () => {
    if (!keep) rmSync(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    log(`${rows.length} UIDs (PS3.6 + ${EXTRA_UIDS.length} extra); work dir ${work}`);
    const { names, truncated } = dcmtkNames(
      rows.map((r) => r.uid),
      work,
    );
    log(`dcmdump names: ${names.size}`);
    const sopClasses = rows.filter((r) => r.type === "SOP Class").map((r) => r.uid);
    const {
      prefixes: rawPrefixes,
      route,
      modality,
      refusedByStorescu,
      unsendable,
      fallback,
    } = await dcmtkPrefixes(sopClasses, work);
    const prefixes = new Map(
      [...rawPrefixes].filter(([uid, p]) => uid !== UNKNOWN_PROBE_UID && p !== fallback),
    );
    writeFileSync(outFile, renderTs(rows, names, prefixes, fallback, dcmtkVersion));
    log(`wrote ${outFile}`);

    // findings for the README
    const kw = new Map(rows.map((r) => [r.uid, r]));
    const storage = rows.filter((r) => r.type === "SOP Class" && STORAGE_KEYWORD.test(r.keyword));
    const byPrefix = new Map();
    for (const [uid, p] of prefixes) byPrefix.set(p, [...(byPrefix.get(p) ?? []), uid]);
    const label = (u) =>
      `${u} ${kw.get(u)?.keyword || "(no keyword)"}${kw.get(u)?.retired ? " (retired)" : ""}`;
    const report = {
      dcmtkVersion,
      uids: rows.length,
      dcmtkNames: names.size,
      sopClasses: sopClasses.length,
      storageClasses: storage.length,
      prefixes: prefixes.size,
      fallbackPrefix: fallback,
      storageWithoutPrefix: storage.filter((r) => !prefixes.has(r.uid)).map((r) => label(r.uid)),
      refusedByStorescuR: refusedByStorescu.map(label),
      receivedVia: Object.fromEntries(
        [...new Set(route.values())].map((how) => [
          how,
          [...route].filter(([u, h]) => h === how && u !== UNKNOWN_PROBE_UID).length,
        ]),
      ),
      onlyViaProfileScp: [...route]
        .filter(([, h]) => h.endsWith("storescp -xf"))
        .map(([u]) => `${label(u)} -> ${rawPrefixes.get(u)}`),
      // storescu logs dcmSOPClassUIDToModality(uid, "OT"): must agree with the file-name prefix
      storescuLogMismatches: [...rawPrefixes]
        .filter(
          ([u, p]) =>
            modality.get(u)?.sent !== undefined &&
            modality.get(u).sent !== (p === fallback ? "OT" : p),
        )
        .map(([u, p]) => `${label(u)}: file ${p}, log ${modality.get(u).sent}`),
      unsendable: unsendable.map(label),
      nonStorageWithPrefix: [...prefixes.keys()]
        .filter((u) => !storage.some((r) => r.uid === u))
        .map(label),
      sharedPrefixes: Object.fromEntries(
        [...byPrefix].filter(([, us]) => us.length > 1).map(([p, us]) => [p, us.length]),
      ),
      truncatedByDefaultDcmdump: truncated,
      namesDifferingFromKeyword: rows.filter(
        (r) => names.has(r.uid) && names.get(r.uid) !== r.keyword,
      ).length,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
