/** The de-identification run: inputs → anonymize → atomic outputs, one NDJSON result per input, map and audit logs. */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, lstatSync, type WriteStream } from "node:fs";
import { chmod, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  mapPool,
  ReadBuffers,
  RecordWriter,
  walkFiles,
  writeFileAtomic,
  type Io,
  type WalkedFile,
} from "@dicom-pipes/dimse/io";
import { ExitError, Exit, type CliLogger } from "@dicom-pipes/dimse/cli";
import { DCMTK_UNKNOWN_PREFIX, dcmtkPrefix, parsePart10 } from "@dicom-pipes/dimse/dicom";
import { insideOrThrow, type Layout as PathTemplate } from "@dicom-pipes/dimse/records";
import { anonymize, patientKey, type AnonConfig, type AnonOk, type AnonOutcome } from "./anon.js";
import { SEQ_FORMAT } from "./keys.js";

export type Layout = "hierarchy" | "mirror" | "bids" | "template";
export type MapFormat = "ndjson" | "pacsifier";

export interface RunConfig {
  anon: AnonConfig;
  outDir?: string;
  inPlace: boolean;
  layout: Layout;
  keepDirNames: boolean;
  /** `--layout template`: the path template, on de-identified values. */
  template?: PathTemplate;
  jobs: number;
  mapOut?: string;
  /** `pacsifier`: --map-out is a folder receiving new_ids.json, day_shift.json and map.ndjson. */
  mapFormat: MapFormat;
  auditLog?: string;
  pathField: string;
  failOnQuarantine: boolean;
  /** fsync each output before its rename (durable when reported, not only complete). */
  fsync: boolean;
  /** `--decompress`: write compressed files decoded, in explicit VR little endian. */
  decompress?: boolean;
  /** Files that are not DICOM (journals, dumps, README…): reported skipped, or errors. */
  nonDicom: "skip" | "error";
  version: string;
  edition: string;
}

interface Input extends WalkedFile {
  /** Record fields echoed back (stdin NDJSON). */
  error?: string;
}

/** The `sub-XXXX` segment of a path (PACSIFIER's patient folders). */
export function folderKey(path: string): string | undefined {
  return path.split(/[\\/]/).find((s) => /^sub-[^/\\]+$/.test(s));
}

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

function safeSegment(s: string | undefined, fallback: string): string {
  const t = (s ?? "")
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^\.+/, "");
  return t && SAFE_NAME.test(t) ? t : fallback;
}

/** Where a de-identified file goes (names from de-identified values only, except `mirror`). */
export function outputPath(cfg: RunConfig, input: Input, r: AnonOk): string {
  if (cfg.inPlace) return input.path;
  const dir = cfg.outDir!;
  const sop = `${r.sop}.dcm`;
  switch (cfg.layout) {
    case "mirror": {
      const parts = input.rel.split(/[\\/]/).filter((p) => p && p !== "." && p !== "..");
      return join(dir, ...parts);
    }
    case "bids": {
      const segs = input.path.split(/[\\/]/);
      const i = segs.findIndex((s) => /^sub-/.test(s));
      const inputSeries = i >= 0 && segs.length > i + 3 ? segs[i + 2] : undefined;
      const series =
        cfg.keepDirNames && inputSeries
          ? safeSegment(inputSeries, "series")
          : `${String(r.seriesNumber ?? "0").padStart(5, "0")}-${safeSegment(r.modality, "OT")}`;
      return join(
        dir,
        `sub-${safeSegment(r.patient.pseudonym, "unknown")}`,
        `ses-${safeSegment(r.studyDate, "nodate")}`,
        series,
        sop,
      );
    }
    case "template": {
      const rel = cfg.template!.render({
        dataset: r.dataset,
        extra: { prefix: dcmtkPrefix(r.sopClass) ?? DCMTK_UNKNOWN_PREFIX },
      });
      insideOrThrow(dir, rel);
      return join(dir, rel);
    }
    default:
      return join(dir, safeSegment(r.patient.pseudonym, "unknown"), r.study, r.series, sop);
  }
}

async function* stdinInputs(io: Io, field: string): AsyncGenerator<Input> {
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    const text = raw.trim();
    if (!text) continue;
    if (text.startsWith("{")) {
      let rec: unknown;
      try {
        rec = JSON.parse(text);
      } catch (e) {
        throw new ExitError(Exit.USAGE, `stdin:${line}: invalid JSON: ${(e as Error).message}`);
      }
      const p = (rec as Record<string, unknown>)[field];
      if (typeof p !== "string" || !p) {
        yield {
          path: "",
          rel: "",
          root: "",
          error: `stdin:${line}: record has no "${field}" string`,
        };
        continue;
      }
      yield { path: p, rel: p.split(/[\\/]/).pop()!, root: p };
    } else yield { path: text, rel: text.split(/[\\/]/).pop()!, root: text };
  }
}

async function* allInputs(
  operands: string[],
  io: Io,
  field: string,
  log: CliLogger,
): AsyncGenerator<Input> {
  for (const op of operands) {
    if (op === "-") {
      yield* stdinInputs(io, field);
      continue;
    }
    try {
      // Hidden files too: a journal or a stray file beside the data is reported (skipped), not passed over.
      yield* walkFiles([op], { skipHidden: false });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      log.error(`${op}: ${err.code === "ENOENT" ? "no such file or folder" : err.message}`);
      yield {
        path: op,
        rel: op,
        root: op,
        error: err.code === "ENOENT" ? "no such file or folder" : err.message,
      };
    }
  }
}

function sha256(parts: readonly Buffer[]): string {
  const h = createHash("sha256");
  for (const b of parts) h.update(b);
  return h.digest("hex");
}

/** An append-only NDJSON file (mode 0600 for the map). */
async function ndjsonFile(path: string, mode: number): Promise<WriteStream> {
  const fh = await open(path, "w", mode);
  await fh.close();
  await chmod(path, mode);
  return createWriteStream(path, { flags: "a" });
}

function writeLine(s: WriteStream | undefined, rec: object): void {
  s?.write(`${JSON.stringify(rec)}\n`);
}

async function closeStream(s: WriteStream | undefined): Promise<void> {
  if (!s) return;
  await new Promise<void>((resolve, reject) =>
    s.end((e?: Error | null) => (e ? reject(e) : resolve())),
  );
}

interface Processed {
  input: Input;
  /** The input's bytes (outcome.data has views of them): given back once the result is recorded. */
  buf?: Buffer;
  outcome?: AnonOutcome;
  out?: string;
  error?: string;
}

/**
 * Duplicate outputs (two inputs holding one SOP instance) without remembering every output: an
 * existing target changed since the run started was written by this run (kept; the later input
 * is skipped), an older one comes from an earlier run (replaced). Outputs in flight (at most -j)
 * and the latest 4096 outputs are also remembered, with their input's name for the message.
 * The look at the disk is one synchronous lstat (microseconds, no thread-pool round trip).
 */
class Written {
  /** File times come from a coarse clock (up to a tick behind): a margin of 20 ms. */
  private readonly since = Date.now() - 20;
  /** Outputs being written, with their input. */
  private readonly inFlight = new Map<string, string>();
  private readonly recent = new Map<string, string>();

  constructor(private readonly remember = 4096) {}

  /** A reason to skip `out` (written for `input`) now, or undefined (then `end(out)` must follow). */
  begin(out: string, input: string): string | undefined {
    if (this.inFlight.has(out) || this.recent.has(out)) return this.reason(out);
    const earlier = lstatSync(out, { throwIfNoEntry: false });
    if (earlier && earlier.ctimeMs >= this.since) return this.reason(out);
    this.inFlight.set(out, input);
    return undefined;
  }

  end(out: string, input?: string): void {
    this.inFlight.delete(out);
    if (input === undefined) return;
    this.recent.set(out, input);
    if (this.recent.size > this.remember) this.recent.delete(this.recent.keys().next().value!);
  }

  reason(out: string): string {
    return `duplicate: same SOP Instance UID and output as ${this.recent.get(out) ?? this.inFlight.get(out) ?? "an earlier input of this run"}`;
  }
}

async function processOne(
  cfg: RunConfig,
  input: Input,
  written: Written,
  buffers: ReadBuffers,
): Promise<Processed> {
  if (input.error) return { input, error: input.error };
  let buf: Buffer;
  try {
    // One synchronous read (cheaper than four thread-pool round trips for a few hundred KB), into a reused buffer.
    buf = buffers.read(input.path);
  } catch (e) {
    return {
      input,
      error: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    };
  }
  const r = await anonymizeAndWrite(cfg, input, written, buf);
  return { ...r, buf };
}

async function anonymizeAndWrite(
  cfg: RunConfig,
  input: Input,
  written: Written,
  buf: Buffer,
): Promise<Processed> {
  let outcome: AnonOutcome;
  try {
    outcome = anonymize(buf, { folderKey: folderKey(input.path) }, cfg.anon);
  } catch (e) {
    if ((e as Error).name === "NotDicomError" && cfg.nonDicom === "skip")
      return {
        input,
        outcome: { status: "skipped", reason: `not DICOM: ${(e as Error).message}` },
      };
    return { input, error: `not de-identified: ${(e as Error).message}` };
  }
  if (outcome.status !== "ok") return { input, outcome };
  if (cfg.decompress) {
    try {
      const { decompressPart10 } = await import("@dicom-pipes/dimse/codec");
      const d = await decompressPart10(Buffer.concat(outcome.data));
      if (d) outcome = { ...outcome, data: d.parts };
    } catch (e) {
      return { input, outcome, error: `not decoded: ${(e as Error).message}` };
    }
  }
  let out: string;
  try {
    out = outputPath(cfg, input, outcome);
  } catch (e) {
    return { input, outcome, error: `no output path: ${(e as Error).message}` };
  }
  if (cfg.inPlace) {
    try {
      await writeFileAtomic(out, outcome.data, { mode: 0o644, fsync: cfg.fsync });
    } catch (e) {
      return { input, outcome, error: `cannot write ${out}: ${(e as Error).message}` };
    }
    return { input, outcome, out };
  }
  const busy = written.begin(out, input.path);
  if (busy !== undefined) return { input, outcome: { status: "skipped", reason: busy } };
  try {
    await writeFileAtomic(out, outcome.data, { mode: 0o644, fsync: cfg.fsync });
  } catch (e) {
    written.end(out);
    return { input, outcome, error: `cannot write ${out}: ${(e as Error).message}` };
  }
  written.end(out, input.path);
  return { input, outcome, out };
}

/**
 * PACSIFIER's maps, keyed as `--id-map`/`--day-shift-map` read them back (the `sub-XXXX` folder with
 * `--id-map-key dirname`, else the PatientID): `{"sub-1234": "P0001"}`, `{"sub-1234": "-35"}`.
 */
function addPacsifier(
  newIds: Record<string, string>,
  dayShifts: Record<string, string>,
  p: AnonOk["patient"],
  log: CliLogger,
): void {
  const key = p.key.includes("|") ? p.origPid : p.key;
  const earlier = newIds[key];
  if (earlier !== undefined && earlier !== p.pseudonym) {
    log.warn(
      `--map-format pacsifier: two patients share the key ${key} (different issuers); new_ids.json keeps the first, map.ndjson has both`,
    );
    return;
  }
  newIds[key] = p.pseudonym;
  if (p.dayShift !== undefined) dayShifts[key] = String(p.dayShift);
}

/**
 * `--pseudonym-format …{seq:N}…`: every patient of the inputs numbered 1, 2, 3… in the order of
 * HMAC(key, "seq:" + patient key), so the numbers depend on the key and on the set of patients,
 * not on the order of the inputs or -j. The inputs are read once before the run for this (their
 * patient keys only are kept; every DICOM input counts, also one the run skips or quarantines);
 * standard input cannot be read twice.
 */
async function numberPatients(operands: string[], cfg: AnonConfig): Promise<Map<string, number>> {
  if (operands.includes("-"))
    throw new ExitError(
      Exit.USAGE,
      "--pseudonym-format {seq:N} numbers the patients before the run, reading the inputs twice: give files or folders, not -",
    );
  const patients = new Set<string>();
  const buffers = new ReadBuffers(1);
  for await (const f of walkFiles(operands, { skipHidden: false, onError: () => undefined })) {
    let buf: Buffer | undefined;
    try {
      buf = buffers.read(f.path);
      const { header, dataset } = parsePart10(buf);
      // A DICOMDIR is skipped by the run: no patient of its own.
      if (header.meta.string(0x00020002) === "1.2.840.10008.1.3.10") continue;
      patients.add(patientKey(dataset, { folderKey: folderKey(f.path) }, cfg));
    } catch {
      // Unreadable or not DICOM: the run reports it.
    } finally {
      if (buf) buffers.release(buf);
    }
  }
  const order = [...patients].map((p) => ({ p, h: cfg.keys.seqOrder(p) }));
  order.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  return new Map(order.map(({ p }, i) => [p, i + 1]));
}

/** Run over every input; returns the exit status. */
export async function runAnon(
  cfg: RunConfig,
  operands: string[],
  io: Io,
  log: CliLogger,
): Promise<number> {
  if (SEQ_FORMAT.test(cfg.anon.pseudonymFormat) && !cfg.anon.idMap && !cfg.anon.readPseudonymFrom)
    cfg.anon.seqNumbers = await numberPatients(operands, cfg.anon);
  const results = new RecordWriter(io.stdout);
  if (cfg.mapOut && cfg.mapFormat === "pacsifier")
    await mkdir(cfg.mapOut, { recursive: true, mode: 0o700 });
  const map = cfg.mapOut
    ? await ndjsonFile(
        cfg.mapFormat === "pacsifier" ? join(cfg.mapOut, "map.ndjson") : cfg.mapOut,
        0o600,
      )
    : undefined;
  const newIds: Record<string, string> = {};
  const dayShifts: Record<string, string> = {};
  const audit = cfg.auditLog ? await ndjsonFile(cfg.auditLog, 0o644) : undefined;
  const options = [...cfg.anon.enabled].sort();
  writeLine(audit, {
    kind: "run",
    tool: "dcmanon",
    version: cfg.version,
    edition: cfg.edition,
    options,
    secret: cfg.anon.keys.fingerprint(),
    layout: cfg.inPlace ? "in-place" : cfg.layout,
  });
  const written = new Written();
  const seenPatients = new Set<string>();
  const seenUids = new Set<string>();
  const totals: Record<string, number> = { ok: 0, skipped: 0, quarantined: 0, error: 0 };
  const buffers = new ReadBuffers(cfg.jobs + 2);
  for await (const p of mapPool(allInputs(operands, io, cfg.pathField, log), cfg.jobs, (i) =>
    processOne(cfg, i, written, buffers),
  )) {
    if (io.signal?.aborted || !results.ok) break;
    await record(p);
    if (p.buf) buffers.release(p.buf);
  }
  async function record(p: Processed): Promise<void> {
    const o = p.outcome;
    const status = p.error ? "error" : o!.status;
    totals[status] = (totals[status] ?? 0) + 1;
    const rec: Record<string, unknown> = { in: p.input.path, out: p.out ?? null, status };
    if (p.error || (o && o.status !== "ok"))
      rec.reason = p.error ?? (o as { reason: string }).reason;
    if (o?.status === "ok") {
      Object.assign(rec, {
        sop: o.sop,
        study: o.study,
        series: o.series,
        patient: o.patient.pseudonym,
        actions: o.actions,
        options: o.options,
        warnings: o.warnings,
      });
      if (map) {
        // Remembered only for the map: without --map-out memory stays flat in the number of files.
        if (!seenPatients.has(o.patient.key)) {
          seenPatients.add(o.patient.key);
          writeLine(map, {
            kind: "patient",
            orig_pid: o.patient.origPid,
            issuer: o.patient.issuer || null,
            key: o.patient.key,
            pseudonym: o.patient.pseudonym,
            day_shift: o.patient.dayShift ?? null,
          });
          if (cfg.mapFormat === "pacsifier") addPacsifier(newIds, dayShifts, o.patient, log);
        }
        for (const [orig, n] of o.uids) {
          if (seenUids.has(orig)) continue;
          seenUids.add(orig);
          writeLine(map, { kind: "uid", orig, new: n });
        }
        writeLine(map, { kind: "file", in: p.input.path, out: p.out });
      }
      if (audit)
        writeLine(audit, {
          kind: "file",
          status,
          out: p.out,
          sha256: sha256(o.data),
          actions: o.actions,
          options: o.options,
          warnings: o.warnings.length,
        });
      for (const w of o.warnings) log.warn(`${p.input.path}: ${w}`);
    } else {
      writeLine(audit, {
        kind: "file",
        status,
        reason: (rec.reason as string).replace(/:.*$/, ""),
      });
      if (status === "error") log.error(`${p.input.path}: ${rec.reason}`);
      else log.info(`${p.input.path}: ${status}: ${rec.reason}`);
    }
    await results.write(rec);
  }
  await results.end();
  writeLine(audit, { kind: "summary", ...totals });
  await closeStream(map);
  if (cfg.mapOut && cfg.mapFormat === "pacsifier") {
    await writeFileAtomic(
      join(cfg.mapOut, "new_ids.json"),
      [Buffer.from(`${JSON.stringify(newIds, null, 2)}\n`)],
      { mode: 0o600, fsync: true },
    );
    if (Object.keys(dayShifts).length)
      await writeFileAtomic(
        join(cfg.mapOut, "day_shift.json"),
        [Buffer.from(`${JSON.stringify(dayShifts, null, 2)}\n`)],
        { mode: 0o600, fsync: true },
      );
  }
  await closeStream(audit);
  log.info(
    `${totals.ok} de-identified, ${totals.skipped} skipped, ${totals.quarantined} quarantined, ${totals.error} errors`,
  );
  if (totals.error) return Exit.PARTIAL;
  if (cfg.failOnQuarantine && (totals.quarantined || totals.skipped)) return Exit.PARTIAL;
  return Exit.OK;
}

/** Lines of an NDJSON file (for `lookup`). */
export async function* readNdjson(path: string): AsyncGenerator<Record<string, unknown>> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new ExitError(Exit.USAGE, `${path}:${n}: invalid JSON: ${(e as Error).message}`);
    }
  }
}
