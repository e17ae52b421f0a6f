/**
 * One input file, start to temporary output: read into a reused buffer, de-identify, write
 * the result beside its target under a temporary name. Reads and writes go to the thread pool
 * (with callbacks), so that with `-j N` the next files are read and written while one is
 * de-identified. The run renames the output into place (after an fsync with `--fsync`) and
 * only then reports it.
 */
import { createHash } from "node:crypto";
import { lstatSync } from "node:fs";
import { ReadBuffers, writeTemp, type TempFile } from "@dicom-pipes/dimse/io";
import { anonymize, type AnonOutcome, type PatientIdentity } from "./anon.js";
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

/** What processing needs besides the file, made once per run. */
export interface JobContext {
  cfg: RunConfig;
  buffers: ReadBuffers;
  /** The run's start, less a margin: an output changed since then was written by this run. */
  since: number;
  /** Settled when the file before has been de-identified. */
  turn: Promise<void>;
}

function sha256(parts: readonly Buffer[]): string {
  const h = createHash("sha256");
  for (const b of parts) h.update(b);
  return h.digest("hex");
}

function refused(id: number, o: Exclude<AnonOutcome, { status: "ok" }>): FileDone {
  return { id, status: o.status, reason: o.reason, patient: o.patient };
}

export async function processFile(ctx: JobContext, t: FileTask): Promise<FileDone> {
  const { id } = t;
  if (t.error) return { id, status: "error", reason: t.error };
  const cfg = ctx.cfg;
  // Read in the background; de-identified in input order (CTP's @integer numbers by first appearance).
  const read = ctx.buffers.readAsync(t.path);
  const before = ctx.turn;
  let done!: () => void;
  ctx.turn = new Promise<void>((resolve) => (done = resolve));
  let buf: Buffer;
  try {
    buf = await read;
  } catch (e) {
    await before;
    done();
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { id, status: "error", reason: `cannot read: ${code}` };
  }
  await before;
  try {
    let outcome: AnonOutcome;
    try {
      outcome = anonymize(buf, { folderKey: folderKey(t.path) }, cfg.anon);
    } catch (e) {
      done();
      if ((e as Error).name === "NotDicomError" && cfg.nonDicom === "skip")
        return { id, status: "skipped", reason: `not DICOM: ${(e as Error).message}` };
      return { id, status: "error", reason: `not de-identified: ${(e as Error).message}` };
    }
    done();
    if (outcome.status !== "ok") return refused(id, outcome);
    const ok = {
      id,
      sop: outcome.sop,
      study: outcome.study,
      series: outcome.series,
      patient: outcome.patient,
    };
    let data = outcome.data;
    if (cfg.decompress) {
      try {
        const { decompressPart10 } = await import("@dicom-pipes/dimse/codec");
        const d = await decompressPart10(Buffer.concat(data));
        if (d) data = d.parts;
      } catch (e) {
        return { ...ok, status: "error", reason: `not decoded: ${(e as Error).message}` };
      }
    }
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
    let written: TempFile;
    try {
      written = await writeTemp(out, data, { mode: 0o644, keepOpen: cfg.fsync });
    } catch (e) {
      return { ...ok, status: "error", reason: `cannot write ${out}: ${(e as Error).message}` };
    }
    return {
      ...ok,
      status: "ok",
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
  } finally {
    ctx.buffers.release(buf);
  }
}

/** The processor of a run: reads and writes in the thread pool, de-identification in input order. */
export function fileJobs(cfg: RunConfig, since: number): (t: FileTask) => Promise<FileDone> {
  const ctx: JobContext = {
    cfg,
    buffers: new ReadBuffers(cfg.jobs * 2 + 2),
    since,
    turn: Promise.resolve(),
  };
  return (t) => processFile(ctx, t);
}
