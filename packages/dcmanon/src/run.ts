/**
 * The de-identification run: inputs → de-identified temporary files (in worker threads with
 * `-j N`, a batch of files per request) → renamed into place in input order (with `--fsync`, a
 * batch at a time: the files fsynced together, renamed, their folders fsynced once) → one NDJSON
 * result per input, only once its output is in place; map and audit logs.
 */
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fdatasync,
  fsync,
  openSync,
  renameSync,
  unlinkSync,
  type WriteStream,
} from "node:fs";
import { chmod, mkdir, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import {
  ReadBuffers,
  RecordWriter,
  signalExitCode,
  walkFiles,
  writeFileAtomic,
  type Io,
} from "@dicom-pipes/dimse/io";
import { ExitError, Exit, type CliLogger } from "@dicom-pipes/dimse/cli";
import { parsePart10 } from "@dicom-pipes/dimse/dicom";
import { patientKey, type AnonConfig, type AnonOk } from "./anon.js";
import { fileProcessor, type FileDone, type FileTask } from "./job.js";
import { SEQ_FORMAT } from "./keys.js";
import { folderKey, type Input, type RunConfig } from "./paths.js";

export { folderKey, outputPath, type Layout, type MapFormat, type RunConfig } from "./paths.js";

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

/** A batch of inputs in flight; `done` once processed. */
interface Entry {
  inputs: Input[];
  promise: Promise<FileDone[]>;
  done?: FileDone[];
}

/** An input with what became of it. */
interface Processed {
  input: Input;
  done: FileDone;
}

const NEVER = new Promise<never>(() => undefined);
const LATER = Symbol("later");

/** A temporary file not to be put in place: closed and removed. */
function discard(d: FileDone | undefined): void {
  if (!d) return;
  try {
    if (d.fd !== undefined) closeSync(d.fd);
    if (d.tmp !== undefined) unlinkSync(d.tmp);
  } catch {
    // already gone
  }
  d.fd = undefined;
  d.tmp = undefined;
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
  const seenPatients = new Set<string>();
  const seenUids = new Set<string>();
  const totals: Record<string, number> = { ok: 0, skipped: 0, quarantined: 0, error: 0 };
  // An existing output changed since the run started was written by this run (file times come
  // from a coarse clock: a margin of 20 ms); the latest outputs are remembered with their input.
  const since = Date.now() - 20;
  const recent = new Map<string, string>();
  const processor = fileProcessor(cfg, since, log, io.env ?? {}, io.signal);
  // Batches in flight: what the processor takes at once, and with --fsync enough files to sync many at once.
  const window = Math.max(processor.capacity, cfg.fsync ? Math.ceil(32 / processor.batch) : 1);
  const inflight: Entry[] = [];
  const inputs = allInputs(operands, io, cfg.pathField, log);
  let reading: Promise<Input[]> | undefined;
  // An input asked for but not there yet (stdin): the next batch starts with it.
  let pending: Promise<IteratorResult<Input>> | undefined;
  let exhausted = false;
  let nextId = 0;
  const stop = () => io.signal?.aborted || !results.ok;
  // A signal also ends a wait for the next input (stdin may stay open and silent).
  const aborted = new Promise<"abort">((resolve) => {
    if (io.signal?.aborted) resolve("abort");
    io.signal?.addEventListener("abort", () => resolve("abort"), { once: true });
  });
  /** The inputs at hand, up to a batch: the first waited for, the others only if already there. */
  async function gather(): Promise<Input[]> {
    const batch: Input[] = [];
    // Settled at the event loop's next turn: the inputs there before it join the batch.
    let later: Promise<typeof LATER> | undefined;
    while (batch.length < processor.batch) {
      const next = pending ?? inputs.next();
      pending = undefined;
      const r = batch.length
        ? await Promise.race([next, (later ??= new Promise((r) => setImmediate(r, LATER)))])
        : await next;
      if (r === LATER) {
        pending = next;
        break;
      }
      if (r.done) {
        exhausted = true;
        break;
      }
      batch.push(r.value);
    }
    return batch;
  }
  try {
    for (;;) {
      if (stop()) break;
      if (!exhausted && !reading && inflight.length < window) reading = gather();
      const head = inflight[0];
      if (!head && !reading) break;
      const got = await Promise.race([
        head ? head.promise.then(() => "done" as const) : NEVER,
        reading ? reading.then(() => "input" as const) : NEVER,
        aborted,
      ]);
      if (got === "abort") break;
      if (got === "input") {
        const batch = await reading!;
        reading = undefined;
        if (!batch.length) continue;
        const tasks = batch.map((input): FileTask => {
          const task: FileTask = { id: nextId++, path: input.path, rel: input.rel };
          if (input.error) task.error = input.error;
          return task;
        });
        const entry: Entry = {
          inputs: batch,
          promise: undefined as unknown as Promise<FileDone[]>,
        };
        entry.promise = processor
          .run(tasks)
          .then(
            (d) => d ?? [],
            (e: Error) =>
              tasks.map((t): FileDone => ({ id: t.id, status: "error", reason: e.message })),
          )
          .then((d) => (entry.done = d));
        inflight.push(entry);
        continue;
      }
      // The head is done: it and every later batch already done are committed together.
      let n = 1;
      while (n < inflight.length && inflight[n]!.done) n++;
      const processed: Processed[] = [];
      for (const e of inflight.splice(0, n))
        e.inputs.forEach((input, i) => {
          const done = e.done![i];
          if (done) processed.push({ input, done });
        });
      await commit(processed);
    }
  } finally {
    // Not reported, so not put in place: the temporary files of files in flight are removed.
    for (const e of inflight) for (const d of e.done ?? (await e.promise)) discard(d);
    await processor.close();
    if (!reading && !pending) await inputs.return(undefined);
  }

  /** Put a batch of outputs in place (durably with --fsync), then report each. */
  async function commit(batch: Processed[]): Promise<void> {
    for (const e of batch) {
      const d = e.done;
      if (d.out === undefined || cfg.inPlace) continue;
      const earlier = recent.get(d.out);
      if (d.duplicate || earlier !== undefined) {
        discard(d);
        Object.assign(d, {
          status: "skipped",
          reason: `duplicate: same SOP Instance UID and output as ${earlier ?? "an earlier input of this run"}`,
          out: undefined,
          tmp: undefined,
          fd: undefined,
        });
        continue;
      }
      recent.set(d.out, e.input.path);
      if (recent.size > 4096) recent.delete(recent.keys().next().value!);
    }
    const ok = batch.map((e) => e.done).filter((d) => d.status === "ok");
    if (cfg.fsync)
      await Promise.all(
        ok.map(
          (d) =>
            new Promise<void>((resolve) =>
              fdatasync(d.fd!, (err) => {
                if (err) fail(d, `cannot write ${d.out}: fsync: ${err.message}`);
                resolve();
              }),
            ),
        ),
      );
    const dirs = new Set<string>();
    for (const d of ok) {
      if (d.status !== "ok") continue;
      try {
        if (d.fd !== undefined) closeSync(d.fd);
        d.fd = undefined;
        renameSync(d.tmp!, d.out!);
        dirs.add(dirname(d.out!));
        for (const m of d.made ?? []) dirs.add(dirname(m));
      } catch (e) {
        fail(d, `cannot write ${d.out}: ${(e as Error).message}`);
      }
    }
    // The new names (and new folders) made durable: each folder fsynced once for the batch.
    if (cfg.fsync)
      await Promise.all(
        [...dirs].map(
          (dir) =>
            new Promise<void>((resolve) => {
              let fd: number;
              try {
                fd = openSync(dir, "r");
              } catch (e) {
                for (const d of ok)
                  if (d.status === "ok" && dirname(d.out!) === dir)
                    fail(d, `cannot write ${d.out}: ${(e as Error).message}`, false);
                return resolve();
              }
              fsync(fd, (err) => {
                closeSync(fd);
                if (err)
                  for (const d of ok)
                    if (d.status === "ok" && dirname(d.out!) === dir)
                      fail(d, `${d.out} not durable: fsync ${dir}: ${err.message}`, false);
                resolve();
              });
            }),
        ),
      );
    for (const e of batch) await record(e.input, e.done);
  }

  /** A file that cannot be put in place: an error, its temporary file removed. */
  function fail(d: FileDone, reason: string, remove = true): void {
    if (remove) discard(d);
    Object.assign(d, { status: "error", reason, out: undefined });
  }

  async function record(input: Input, d: FileDone): Promise<void> {
    const status = d.status;
    totals[status] = (totals[status] ?? 0) + 1;
    const rec: Record<string, unknown> = { in: input.path, out: d.out ?? null, status };
    if (status !== "ok") rec.reason = d.reason;
    if (status === "ok") {
      const patient = d.patient!;
      Object.assign(rec, {
        sop: d.sop,
        study: d.study,
        series: d.series,
        patient: patient.pseudonym,
        actions: d.actions,
        options: d.options,
        warnings: d.warnings,
      });
      if (map) {
        // Remembered only for the map: without --map-out memory stays flat in the number of files.
        if (!seenPatients.has(patient.key)) {
          seenPatients.add(patient.key);
          writeLine(map, {
            kind: "patient",
            orig_pid: patient.origPid,
            issuer: patient.issuer || null,
            key: patient.key,
            pseudonym: patient.pseudonym,
            day_shift: patient.dayShift ?? null,
          });
          if (cfg.mapFormat === "pacsifier") addPacsifier(newIds, dayShifts, patient, log);
        }
        for (const [orig, n] of d.uids ?? []) {
          if (seenUids.has(orig)) continue;
          seenUids.add(orig);
          writeLine(map, { kind: "uid", orig, new: n });
        }
        writeLine(map, { kind: "file", in: input.path, out: d.out });
      }
      if (audit)
        writeLine(audit, {
          kind: "file",
          status,
          out: d.out,
          sha256: d.sha256,
          actions: d.actions,
          options: d.options,
          warnings: d.warnings!.length,
        });
      for (const w of d.warnings ?? []) log.warn(`${input.path}: ${w}`);
    } else {
      writeLine(audit, {
        kind: "file",
        status,
        reason: (d.reason ?? "").replace(/:.*$/, ""),
      });
      if (status === "error") log.error(`${input.path}: ${d.reason}`);
      else log.info(`${input.path}: ${status}: ${d.reason}`);
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
  const stopped = signalExitCode(io.signal);
  if (stopped !== undefined) return stopped;
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
