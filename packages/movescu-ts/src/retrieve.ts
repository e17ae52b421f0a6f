/**
 * The retrieve run of movescu-ts/getscu-ts: -j workers over the requests,
 * each on its own association, the per-request work (C-MOVE or C-GET,
 * retries, the result record), the journal and the exit status.
 */
import {
  isTransientNetError,
  isTransientStatus,
  NetError,
  retrieve,
  retryWait,
  statusClass,
  statusHex,
  statusText,
  type Association,
  type ContextProposal,
  type DicomServer,
  type Response,
  type RetryOptions,
} from "@dicom-pipes/dimse/net";
import type { FlatRecord } from "@dicom-pipes/dimse/records";
import { signalExitCode, type Io, type RecordWriter } from "@dicom-pipes/dimse/io";
import {
  associationFailure,
  Exit,
  ExitError,
  listenFailure,
  type CliLogger,
  type Progress,
  type ProgressCounts,
} from "@dicom-pipes/dimse/cli";
import {
  runBatch,
  Sessions,
  type Journal,
  type Scheduler,
  type ScuSettings,
} from "@dicom-pipes/dimse/app";
import type { RetrieveRequest } from "./requests.js";
import type { Active, Receiving } from "./receive.js";

/** What a retrieve run needs besides the SCU settings. */
export interface RetrieveSettings extends ScuSettings {
  kind: "move" | "get";
  destination?: string;
  receivePort?: number;
  /** Where the +P listener binds (`--bind`). */
  listenBind?: string;
  /** The retrieve model's SOP class. */
  sopClass: string;
  /** DCMTK's word for the operation in log lines. */
  label: "Move" | "C-GET";
  /** What each association proposes. */
  proposals: ContextProposal[];
  od: string;
  jobs: number;
}

const RESULT_KEYS = [
  "status",
  "statusCode",
  "completed",
  "failed",
  "warning",
  "files",
  "bytes",
  "error",
  "attempts",
];

export class RetrieveRun {
  private failures = 0;
  private warnings = 0;
  private done = 0;
  private skipped = 0;
  private associationError?: NetError;
  private listener?: DicomServer;
  private nextMessageId = 1;
  /** Requests in all, once counted. */
  total?: number;

  constructor(
    private readonly s: RetrieveSettings,
    private readonly io: Io,
    private readonly log: CliLogger,
    private readonly writer: RecordWriter | undefined,
    private readonly journal: Journal | undefined,
    private readonly scheduler: Scheduler,
    private readonly progress: Progress,
    private readonly receive: Receiving | undefined,
  ) {
    // A C-GET's objects arrive on the association itself.
    this.sessions = new Sessions(s, s.proposals, log, io.signal, (assoc) =>
      s.kind === "get" ? receive!.attachGet(assoc) : undefined,
    );
  }

  private readonly sessions: Sessions;

  async run(source: AsyncGenerator<RetrieveRequest>): Promise<number> {
    // Listen first: a busy port must leave nothing behind in -od.
    if (this.receive && this.s.kind === "move") {
      try {
        this.listener = await this.receive.listen(this.s.receivePort!, {
          bind: this.s.listenBind,
          maxPdu: this.s.maxPdu,
          acseTimeoutMs: this.s.timeouts.acse,
          dimseTimeoutMs: this.s.timeouts.dimse,
        });
      } catch (e) {
        throw listenFailure(e);
      }
    }
    if (this.receive) {
      await this.receive.removeStaleTemps();
      try {
        await this.receive.ready();
      } catch (e) {
        await this.listener?.close(0);
        throw new ExitError(
          Exit.OUTPUT_DIR,
          `cannot write to the output directory ${this.s.od}: ${(e as Error).message}`,
        );
      }
    }
    try {
      await runBatch({
        source,
        jobs: this.s.jobs,
        signal: this.io.signal,
        halted: () => this.associationError !== undefined,
        scheduler: this.scheduler,
        journal: this.journal,
        journalKey: (req) => this.journalKey(req),
        beforeJournal: async () => this.writer?.flush(),
        skip: async (req, previous) => {
          this.skipped++;
          this.log.info(`${req.where}: already retrieved (journal)`);
          await this.writer?.write(previous);
        },
        work: (req) => this.request(req),
      });
    } finally {
      await this.sessions.close();
      await this.listener?.close(2000);
      await this.receive?.removeTemps();
    }
    const sig = signalExitCode(this.io.signal);
    if (sig !== undefined) return sig;
    if (this.associationError) throw associationFailure(this.associationError);
    if (this.failures) return Exit.RETRIEVE_FAILURE;
    if (this.warnings) return Exit.RETRIEVE_WARNING;
    return Exit.OK;
  }

  /** A request is the same request only against the same archive, by the same kind, to the same destination. */
  private journalKey(req: RetrieveRequest): string {
    const s = this.s;
    return `${s.kind} ${s.call}@${s.peer}:${s.port}${s.destination ? ` to ${s.destination}` : ""} ${req.key}`;
  }

  /** A request and its retries (--retries): transient association failures and outcomes are tried again; its result record when it succeeded. */
  private async request(req: RetrieveRequest): Promise<FlatRecord | undefined> {
    let retry: { what: string; reason: string } | undefined;
    let assoc: Association | undefined;
    try {
      for (let attempts = 1; ; attempts++) {
        if (
          retry &&
          !(await retryWait(
            { ...this.retryOptions(), what: retry.what },
            attempts - 1,
            retry.reason,
          ))
        )
          return;
        if (!assoc) {
          try {
            assoc = await this.sessions.acquire({ retries: false });
          } catch (e) {
            if (!(e instanceof NetError)) throw e;
            retry = { what: "association", reason: e.condition };
            if (
              isTransientNetError(e) &&
              attempts <= this.s.retry.retries &&
              !this.io.signal?.aborted
            )
              continue;
            this.associationError ??= e;
            await this.result(req, undefined, { error: e.condition, attempts });
            return;
          }
        }
        const outcome = await this.one(assoc, req, attempts);
        if (typeof outcome !== "string") return outcome;
        retry = { what: this.s.kind === "move" ? "C-MOVE" : "C-GET", reason: outcome };
        if (assoc.closed || assoc.error) {
          this.sessions.release(assoc);
          assoc = undefined;
        }
      }
    } finally {
      if (assoc) this.sessions.release(assoc);
    }
  }

  private retryOptions(): RetryOptions {
    return { policy: this.s.retry, signal: this.io.signal, warn: (m) => this.log.warn(m) };
  }

  /**
   * One attempt of a request: the reason to retry it when it failed in a
   * transient way and retries are left, else its result record when it
   * succeeded (for the journal).
   */
  private async one(
    assoc: Association,
    req: RetrieveRequest,
    attempts: number,
  ): Promise<string | FlatRecord | undefined> {
    const retriesLeft = attempts <= this.s.retry.retries && !this.io.signal?.aborted;
    const log = this.log;
    const label = this.s.label;
    const active = this.receive?.begin(req);
    if (active && this.s.kind === "get") this.receive!.forGet(assoc, active);
    let final: Response | undefined;
    let counter = 0;
    // Message IDs unique across the run's associations: C-MOVE sub-operations name their request by it.
    assoc.setMessageIdBase(this.nextMessageId);
    this.nextMessageId = this.nextMessageId >= 0xffff ? 1 : this.nextMessageId + 1;
    try {
      for await (const r of retrieve(assoc, this.s.kind, this.s.sopClass, req.identifier, {
        destination: this.s.destination,
        dimseTimeoutMs: this.s.timeouts.dimse,
        onSent: (id) => {
          log.info(`Sending ${label} Request (MsgID ${id})`);
          if (active) this.receive!.setMessageId(active, id);
        },
      })) {
        counter++;
        if (r.pending) {
          log.info(`Received ${label} Response ${counter} (Pending)`);
          this.showProgress();
          if (this.io.signal?.aborted) break;
          continue;
        }
        final = r;
      }
    } catch (e) {
      if (active) this.receive!.end(active);
      if (e instanceof NetError) {
        if (e.kind === "dimse-timeout") assoc.abort();
        // A reset or an abort before any response or object: the request is asked again on a new association.
        if (
          retriesLeft &&
          counter === 0 &&
          !active?.files &&
          (e.kind === "aborted" || e.kind === "closed")
        )
          return e.condition;
        log.error(
          `${req.where}: ${this.s.kind === "move" ? "Move" : "Get"} SCU Failed: ${e.condition}`,
        );
        this.failures++;
        await this.result(req, active, { error: e.condition, statusClass: "Failure", attempts });
        return;
      }
      throw e;
    }
    if (active) this.receive!.end(active);
    if (!final) {
      await this.result(req, active, { error: "cancelled", statusClass: "Cancel", attempts });
      return;
    }
    const status = final.status;
    const cls = statusClass(status);
    const text = statusText(status, this.s.kind);
    log.info(`Received Final ${label} Response (${text})`);
    if (retriesLeft && isTransientStatus(status)) return `${text} (${statusHex(status)})`;
    const completed = final.command.completed ?? 0;
    const failed = final.command.failed ?? 0;
    const warning = final.command.warning ?? 0;
    let outcome: string = cls;
    let error: string | undefined;
    if (cls === "Failure") {
      log.warn(`${label} response with error status (${text})`);
      error = `${text}${final.command.errorComment ? `: ${final.command.errorComment}` : ""}`;
    } else if (cls === "Warning" || failed > 0) {
      log.warn(
        `${label} response with warning status (${text}): ${failed} of ${completed + failed + warning} sub-operations failed`,
      );
      outcome = "Warning";
      error = `${failed} sub-operations failed`;
    }
    if ((outcome === "Success" || outcome === "Warning") && active && !this.receive!.ignoring) {
      const announced = completed + warning;
      const expected = req.expected !== undefined ? Math.max(req.expected, announced) : announced;
      if (active.files < expected) {
        outcome = "Incomplete";
        error = `received ${active.files} of ${expected} objects${req.expected !== undefined && req.expected > announced ? ` (the archive listed ${req.expected})` : ""}`;
        log.warn(`${req.where}: ${error}`);
      }
    }
    if (outcome === "Failure") this.failures++;
    else if (outcome === "Warning" || outcome === "Incomplete") this.warnings++;
    const result = await this.result(req, active, {
      statusClass: outcome,
      status,
      completed,
      failed,
      warning,
      error,
      attempts,
    });
    if (outcome === "Success") return result;
  }

  private async result(
    req: RetrieveRequest,
    active: Active | undefined,
    r: {
      statusClass?: string;
      status?: number;
      completed?: number;
      failed?: number;
      warning?: number;
      error?: string;
      attempts?: number;
    },
  ): Promise<FlatRecord> {
    this.done++;
    const base: FlatRecord = {};
    for (const [k, v] of Object.entries(req.record)) if (!RESULT_KEYS.includes(k)) base[k] = v;
    const rec: FlatRecord = {
      ...base,
      status: r.statusClass ?? "Failure",
      ...(r.status !== undefined ? { statusCode: statusHex(r.status) } : {}),
      completed: r.completed ?? 0,
      failed: r.failed ?? 0,
      warning: r.warning ?? 0,
      ...(active ? { files: active.files, bytes: active.bytes } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(this.s.retry.retries ? { attempts: r.attempts ?? 1 } : {}),
    };
    this.showProgress();
    await this.writer?.write(rec);
    req.onResult?.(rec);
    return rec;
  }

  counts(): ProgressCounts {
    return {
      done: this.done + this.skipped,
      total: this.total,
      unit: "requests",
      skipped: this.skipped,
      extra: [
        ...(this.skipped ? [`${this.skipped} from the journal`] : []),
        ...(this.receive ? [`${this.receive.received} objects`] : []),
      ],
      bytes: this.receive?.bytes,
      failed: this.failures,
    };
  }

  private showProgress(): void {
    this.progress.counts(this.counts());
  }
}
