/**
 * One input file, start to temporary output: read into a reused buffer, de-identify, write
 * the result beside its target under a temporary name, synchronously (a file of a few hundred
 * KB costs less to copy than to hand to the thread pool and back). With `-j N` the files are
 * processed in N worker threads, a batch of files per request; the run renames each output into
 * place (after an fsync with `--fsync`) and only then reports it.
 */
import { createHash } from "node:crypto";
import { lstatSync } from "node:fs";
import { helperThreads, serveWorker, WorkerPool, type WorkerHandler } from "@dicom-pipes/dimse/app";
import type { CliLogger } from "@dicom-pipes/dimse/cli";
import { ReadBuffers, writeTemp } from "@dicom-pipes/dimse/io";
import { Layout as PathTemplate } from "@dicom-pipes/dimse/records";
import { PixelDataError } from "@dicom-pipes/dimse/dicom";
import {
  anonymize,
  redactRegions,
  type AnonOk,
  type AnonOutcome,
  type PatientIdentity,
} from "./anon.js";
import { anonConfig, type AnonArgs } from "./config.js";
import { Keys } from "./keys.js";
import { folderKey, outputPath, type RunConfig } from "./paths.js";

/** An input to process. */
export interface FileTask {
  id: number;
  path: string;
  rel: string;
  /** Why it cannot be read (a bad stdin record, a missing operand). */
  error?: string;
}

export type Status = "ok" | "skipped" | "quarantined" | "error";

/** What became of an input: for `ok`, a temporary file waiting to be renamed to `out`. */
export interface FileDone {
  id: number;
  status: Status;
  reason?: string;
  out?: string;
  tmp?: string;
  /** The temporary file's descriptor, open for the run's fsync (`--fsync`). */
  fd?: number;
  /** Folders created for the output. */
  made?: string[];
  /** `out` was written earlier in this run (found on disk by its time): not written again. */
  duplicate?: boolean;
  sop?: string;
  study?: string;
  series?: string;
  patient?: PatientIdentity;
  actions?: Record<string, number>;
  options?: string[];
  warnings?: string[];
  /** Original → new UIDs (for `--map-out`). */
  uids?: Array<[string, string]>;
  /** Of the output (for `--audit-log`). */
  sha256?: string;
}

/** What processing needs besides the file, made once per run (per thread). */
interface JobContext {
  cfg: RunConfig;
  buffers: ReadBuffers;
  /** The run's start, less a margin: an output changed since then was written by this run. */
  since: number;
}

function sha256(parts: readonly Buffer[]): string {
  const h = createHash("sha256");
  for (const b of parts) h.update(b);
  return h.digest("hex");
}

/** De-identify one input; synchronous but for `--decompress`. */
function processFile(ctx: JobContext, t: FileTask): FileDone | Promise<FileDone> {
  const { id } = t;
  if (t.error) return { id, status: "error", reason: t.error };
  const cfg = ctx.cfg;
  let buf: Buffer;
  try {
    buf = ctx.buffers.read(t.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { id, status: "error", reason: `cannot read: ${code}` };
  }
  try {
    let outcome: AnonOutcome;
    try {
      outcome = anonymize(buf, { folderKey: folderKey(t.path) }, cfg.anon);
    } catch (e) {
      if ((e as Error).name === "NotDicomError" && cfg.nonDicom === "skip")
        return { id, status: "skipped", reason: `not DICOM: ${(e as Error).message}` };
      return { id, status: "error", reason: `not de-identified: ${(e as Error).message}` };
    }
    if (outcome.status !== "ok")
      return { id, status: outcome.status, reason: outcome.reason, patient: outcome.patient };
    // The output's values may be views of the read buffer: written (or copied) before it is given back.
    if (cfg.decompress) return decompressed(ctx, t, outcome, Buffer.concat(outcome.data));
    return place(ctx, t, outcome, outcome.data);
  } finally {
    ctx.buffers.release(buf);
  }
}

async function decompressed(
  ctx: JobContext,
  t: FileTask,
  outcome: AnonOk,
  whole: Buffer,
): Promise<FileDone> {
  try {
    const { decompressPart10 } = await import("@dicom-pipes/dimse/codec");
    const sig = outcome.redact;
    const d = await decompressPart10(whole, "compressed", sig && ((ds) => redactRegions(ds, sig)));
    // Pixels to redact that were not decoded (so not redacted): never written as cleaned.
    if (sig && !d)
      return {
        ...identity(t, outcome),
        status: "quarantined",
        reason: "redaction: the pixel data was not decoded",
      };
    return place(ctx, t, outcome, d ? d.parts : [whole]);
  } catch (e) {
    if (e instanceof PixelDataError)
      return { ...identity(t, outcome), status: "quarantined", reason: `redaction: ${e.message}` };
    return {
      ...identity(t, outcome),
      status: "error",
      reason: `not decoded: ${(e as Error).message}`,
    };
  }
}

function identity(t: FileTask, o: AnonOk): FileDone {
  return {
    id: t.id,
    status: "ok",
    sop: o.sop,
    study: o.study,
    series: o.series,
    patient: o.patient,
  };
}

/** The de-identified file written under a temporary name beside its output path. */
function place(ctx: JobContext, t: FileTask, outcome: AnonOk, data: readonly Buffer[]): FileDone {
  const cfg = ctx.cfg;
  const ok = identity(t, outcome);
  let out: string;
  try {
    out = outputPath(cfg, t, outcome);
  } catch (e) {
    return { ...ok, status: "error", reason: `no output path: ${(e as Error).message}` };
  }
  if (!cfg.inPlace) {
    const earlier = lstatSync(out, { throwIfNoEntry: false });
    if (earlier && earlier.ctimeMs >= ctx.since)
      return { ...ok, status: "skipped", out, duplicate: true };
  }
  try {
    const written = writeTemp(out, data, { mode: 0o644, keepOpen: cfg.fsync });
    return {
      ...ok,
      out,
      tmp: written.tmp,
      fd: written.fd,
      made: written.made.length ? written.made : undefined,
      actions: outcome.actions,
      options: outcome.options,
      warnings: outcome.warnings,
      uids: cfg.mapOut ? [...outcome.uids] : undefined,
      sha256: cfg.auditLog ? sha256(data) : undefined,
    };
  } catch (e) {
    return { ...ok, status: "error", reason: `cannot write ${out}: ${(e as Error).message}` };
  }
}

/** Runs batches of inputs: in this thread, or in worker threads. */
export interface Processor {
  /** The results of a batch, in its order; undefined: not started (the run was stopped). */
  run(tasks: FileTask[]): Promise<FileDone[] | undefined>;
  /** Batches taken at once. */
  capacity: number;
  /** Inputs per batch. */
  batch: number;
  close(): Promise<void>;
}

/** How a worker thread rebuilds the run's configuration: from the options, as the main thread did. */
export interface JobSource {
  args: AnonArgs;
  tool: string;
  template?: string;
}

interface WorkerData {
  run: Omit<RunConfig, "anon" | "template" | "source">;
  source: JobSource;
  secret: Buffer;
  /** The run's start (CTP's @date/@time). */
  started?: number;
  seqNumbers?: ReadonlyMap<string, number>;
  since: number;
}

function batches(ctx: JobContext): WorkerHandler<FileTask[], FileDone[]> {
  return {
    run: async (tasks) => {
      const done: FileDone[] = [];
      for (const t of tasks) done.push(await processFile(ctx, t));
      // The event loop's turn after each batch: signals, and the worker threads' answers.
      await new Promise((resolve) => setImmediate(resolve));
      return done;
    },
    close: async () => undefined,
  };
}

const WORKER_ENTRY = "dcmanon/files";
// In a worker thread started for WORKER_ENTRY: the run's configuration rebuilt, then batches of files.
let served: WorkerHandler<FileTask[], FileDone[]> | undefined;
serveWorker<WorkerData, FileTask[], FileDone[]>(WORKER_ENTRY, (d) => {
  if (served) return served;
  // No logger: the main thread has already said what the options are worth.
  const anon = anonConfig(d.source.args, new Keys(Buffer.from(d.secret)), d.source.tool);
  if (anon.ctp && d.started !== undefined) anon.ctp.started = new Date(d.started);
  anon.seqNumbers = d.seqNumbers;
  const template =
    d.source.template !== undefined ? new PathTemplate(d.source.template) : undefined;
  const cfg: RunConfig = { ...d.run, anon, template };
  // One configuration and one set of buffers for the thread's lanes.
  served = batches({ cfg, buffers: new ReadBuffers(2), since: d.since });
  return served;
});
/** The module a worker thread runs: the bundle, or this file from the sources. */
const WORKER_URL = new URL(import.meta.url);

/**
 * Worker threads for `-j N`: the main thread is one of the N (between reading the inputs and
 * committing the outputs, it de-identifies too), so N - 1, at most one per other core
 * (`$DICOM_PIPES_THREADS` when set). None where the files must be de-identified one after another
 * in input order (CTP's `@integer`: numbers by first appearance), or where the run has no options
 * to rebuild its configuration from.
 */
function threadsFor(cfg: RunConfig, env: NodeJS.ProcessEnv): number {
  if (cfg.jobs < 2 || !cfg.source || cfg.anon.ctp?.script.usesInteger) return 0;
  return helperThreads(cfg.jobs - 1, env);
}

/** The run's processor: batches in this thread, and with `-j` in worker threads as well. */
export function fileProcessor(
  cfg: RunConfig,
  since: number,
  log: CliLogger,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Processor {
  const local = batches({ cfg, buffers: new ReadBuffers(2), since });
  const threads = threadsFor(cfg, env);
  if (threads === 0) return { run: local.run, close: local.close, capacity: 1, batch: 16 };
  const { anon, template: _t, source, ...run } = cfg;
  const pool = new WorkerPool<WorkerData, FileTask[], FileDone[]>({
    url: WORKER_URL,
    entry: WORKER_ENTRY,
    data: {
      run,
      source: source!,
      secret: anon.keys.secret,
      started: anon.ctp?.started.getTime(),
      seqNumbers: anon.seqNumbers,
      since,
    },
    size: threads,
    threads,
    // Enough queued in each thread that it does not wait while the main thread is busy with a batch.
    depth: 4,
    log,
    signal,
  });
  pool.start();
  // A batch goes to a thread with room for it, else it is done here and now.
  let queued = 0;
  return {
    run: (tasks) => {
      if (queued >= pool.capacity) return local.run(tasks);
      queued++;
      return pool.run(tasks).finally(() => queued--);
    },
    close: () => pool.close(),
    // The main thread's batches wait (done) behind the threads' to be put in place in input order.
    capacity: pool.capacity * 2 + 2,
    batch: 8,
  };
}
