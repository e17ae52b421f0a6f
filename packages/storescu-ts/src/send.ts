/**
 * The send run of storescu-ts: the -j pool (app layer's runBatch; with
 * -j 2 or more each association in a worker thread, app layer's
 * WorkerPool), each sender with its association and read buffer, proposing
 * each file's own transfer syntax and uncompressed fallbacks; the result
 * record per file and the exit status (DCMTK storescu's: the failed status
 * >> 8, 10 on a peer abort).
 */
import { rename } from "node:fs/promises";
import {
  TransferSyntax,
  isUncompressed,
  dcmtkPrefix,
  syntaxInfo,
  syntaxName,
} from "@dicom-pipes/dimse/dicom";
import {
  contextForFile,
  decodableSyntax,
  fileToSend,
  isTransientStatus,
  NetError,
  statusClass,
  statusHex,
  statusText,
  storeFile,
  StoreError,
  withRetries,
  type Association,
  type RetryOptions,
  type ContextProposal,
  type FileHeader,
  type FileToSend,
  type ScratchBuffer,
} from "@dicom-pipes/dimse/net";
import type { FlatRecord } from "@dicom-pipes/dimse/records";
import { InputError, type RecordWriter, type Io } from "@dicom-pipes/dimse/io";
import {
  connectPeer,
  associationFailure,
  Exit,
  ExitError,
  type Progress,
  type CliLogger,
  type ProgressCounts,
  type SendDecompress,
} from "@dicom-pipes/dimse/cli";
import {
  defaultThreads,
  runBatch,
  serveWorker,
  WorkerPool,
  type ScuSettings,
  type WorkerContext,
  type WorkerHandler,
} from "@dicom-pipes/dimse/app";

/** What a send run needs besides the SCU settings. */
export interface SendSettings extends ScuSettings {
  jobs: number;
  halt: boolean;
  rename: boolean;
  abort: boolean;
  /** Uncompressed syntaxes proposed beside each file's own. */
  fallback: string[];
  /** `--decompress`: when a compressed file is decoded and sent uncompressed. */
  decompress: SendDecompress;
}

/** A file to send: its path, and its header once read. */
type Job = { path: string; file?: FileToSend; error?: string };

/**
 * Distinct presentation contexts needed so far: each file's own syntax,
 * plus uncompressed fallbacks per class. One set is shared by the lanes of
 * a thread, so that an association opened (again) by any lane proposes
 * every class the others have met.
 */
class ContextSet {
  private readonly keys = new Map<string, ContextProposal>();
  constructor(
    private readonly fallback: string[],
    private readonly decompress: SendDecompress,
    seed: Kind[],
  ) {
    for (const k of seed) this.add(k);
  }

  /** Add a file's contexts (when new); returns them. */
  add(f: Kind): ContextProposal[] {
    const cls = f.sopClassUID;
    const ts = f.transferSyntax;
    const mine: ContextProposal[] = [];
    // A file we may decode is also offered uncompressed (with --decompress always: only so).
    const decodable = this.decompress !== "never" && decodableSyntax(ts);
    if (!(decodable && this.decompress === "always"))
      mine.push(this.get(`${cls}|${ts}`, () => ({ abstractSyntax: cls, transferSyntaxes: [ts] })));
    if (isUncompressed(ts) || ts === TransferSyntax.DeflatedExplicitVRLittleEndian || decodable)
      mine.push(
        this.get(`${cls}|*`, () => ({ abstractSyntax: cls, transferSyntaxes: this.fallback })),
      );
    return mine;
  }

  /** The proposal under `key`, made on first use. */
  private get(key: string, make: () => ContextProposal): ContextProposal {
    let p = this.keys.get(key);
    if (!p) this.keys.set(key, (p = make()));
    return p;
  }

  /** At most 128 proposals; the ones for `must` first. */
  proposals(must?: FileToSend): ContextProposal[] {
    const all = [...this.keys.values()];
    if (all.length <= 128) return all;
    const first = must ? all.filter((p) => p.abstractSyntax === must.header.sopClassUID) : [];
    return [...first, ...all.filter((p) => !first.includes(p))].slice(0, 128);
  }
}

/** What sending one file came to, for the main thread's counts, records and exit status. */
interface Outcome {
  record?: FlatRecord;
  /** Counted as sent (with its size) or failed. */
  sent?: number;
  failed?: boolean;
  /** The run stops with this exit status (a halting failure, an association failure). */
  stop?: number;
}

/** The SOP class and transfer syntax of a file, which decide its presentation contexts. */
type Kind = Pick<FileHeader, "sopClassUID" | "transferSyntax">;

/**
 * One association's sender, in the main thread (`-j 1`) or in a worker
 * thread: opens the association (again, for a new SOP class or syntax), sends
 * file after file on it, and says what came of each.
 */
class Sender {
  private assoc?: Association;
  private readonly scratch: ScratchBuffer = {};
  /** What the association was proposed with: a file whose contexts are not all among them opens another. */
  private proposed = new Set<ContextProposal>();
  /** Attempts for the current file (association and C-STORE), for the result records with --retries. */
  private tries = 1;

  constructor(
    private readonly s: SendSettings,
    private readonly log: CliLogger,
    private readonly signal: AbortSignal | undefined,
    /** The contexts met so far by every lane of this thread. */
    private readonly contexts: ContextSet,
  ) {}

  /** Send one file on the association (opened, or proposed again for a new SOP class, as needed). */
  async send(job: Job): Promise<Outcome> {
    try {
      if (!job.file && !job.error) Object.assign(job, await inspect(job.path));
      if (job.error || !job.file) {
        this.log.error(`Bad DICOM file: ${job.path}: ${job.error}`);
        return this.fail(job.path, undefined, job.error ?? "not a DICOM file", Exit.FAILURE);
      }
      const file = job.file;
      const mine = this.contexts.add(file.header);
      this.tries = 1;
      if (this.assoc && (this.assoc.closed || this.assoc.error)) this.assoc = undefined;
      // An association that proposed every context of the file and accepted none stays (the
      // peer refused them); one that left some out (met since, or past the 128) is opened again.
      if (
        !this.assoc ||
        (!contextForFile(this.assoc, file, this.s.decompress) &&
          mine.some((p) => !this.proposed.has(p)))
      ) {
        await this.close();
        const opened = await withRetries(this.retryOptions(), async () => {
          const proposals = this.contexts.proposals(file);
          this.proposed = new Set(proposals);
          return { value: await connectPeer(this.s, proposals, this.log) };
        });
        this.assoc = opened.value;
        this.tries = opened.attempts;
      }
      const assoc = this.assoc;
      const pc = contextForFile(assoc, file, this.s.decompress);
      if (!pc) {
        const msg = `No presentation context for: (${dcmtkPrefix(file.header.sopClassUID) ?? "unknown SOP class"}) ${file.header.sopClassUID} in ${file.header.transferSyntax}`;
        this.log.error(msg);
        return this.fail(file.path, file, msg, Exit.FAILURE);
      }
      this.log.info(`Sending file: ${file.path}`);
      if (pc.transferSyntax !== file.header.transferSyntax)
        this.converting(file, pc.transferSyntax);
      let status: number;
      try {
        const stored = await withRetries(
          { ...this.retryOptions(), what: "C-STORE" },
          async () => {
            const r = await storeFile(assoc, file, pc, {
              dimseTimeoutMs: this.s.timeouts.dimse,
              scratch: this.scratch,
            });
            return {
              value: r,
              retry: isTransientStatus(r.status)
                ? `${statusText(r.status, "store")} (${statusHex(r.status)})`
                : undefined,
            };
          },
          () => false,
        );
        const r = stored.value;
        this.tries += stored.attempts - 1;
        status = r.status;
        const cls = statusClass(status);
        this.log.info(`Received Store Response (${statusText(status, "store")})`);
        if (cls === "Failure") {
          const comment = r.command.errorComment ? `: ${r.command.errorComment}` : "";
          this.log.error(
            `Store Failed, file: ${file.path}: ${statusText(status, "store")} (${statusHex(status)})${comment}`,
          );
          return this.fail(
            file.path,
            file,
            `${statusText(status, "store")}${comment}`,
            status >> 8 || Exit.FAILURE,
            status,
          );
        }
        if (cls === "Warning")
          this.log.warn(
            `Store warning, file: ${file.path}: ${statusText(status, "store")} (${statusHex(status)})`,
          );
      } catch (e) {
        if (e instanceof StoreError) {
          this.log.error(`Store Failed, file: ${file.path}: ${e.message}`);
          if (e.dimseTimeout) {
            assoc.abort();
            this.assoc = undefined;
          }
          return this.fail(file.path, file, e.message, Exit.FAILURE);
        }
        if (e instanceof NetError) {
          this.log.error(`Store SCU Failed: ${e.condition}`);
          this.assoc = undefined;
          return {
            record: this.record(file.path, "Failure", file, e.condition),
            failed: true,
            stop: e.kind === "aborted" || e.kind === "closed" ? Exit.PEER_ABORT : Exit.FAILURE,
          };
        }
        throw e;
      }
      if (this.s.rename)
        await rename(file.path, `${file.path}.done`).catch((e: Error) =>
          this.log.warn(`cannot rename ${file.path}: ${e.message}`),
        );
      return {
        record: this.record(file.path, statusClass(status), file, undefined, status),
        sent: file.header.size,
      };
    } catch (e) {
      if (e instanceof NetError) {
        const failure = associationFailure(e);
        this.log.error(failure.message);
        for (const d of failure.details) this.log.error(d);
        return { stop: failure.code };
      }
      throw e;
    }
  }

  /** End the association: released, or aborted with --abort. */
  async close(): Promise<void> {
    const assoc = this.assoc;
    this.assoc = undefined;
    if (!assoc || assoc.closed) return;
    if (this.s.abort) assoc.abort();
    else {
      this.log.info("Releasing Association");
      await assoc.release();
    }
  }

  /** A file sent in another syntax: decoding is a warning when the peer forced it (--decompress auto). */
  private converting(file: FileToSend, to: string): void {
    const from = file.header.transferSyntax;
    const text = `Converting transfer syntax: ${syntaxName(from)} -> ${syntaxName(to)}`;
    if (syntaxInfo(from).encapsulated && this.s.decompress === "auto")
      this.log.warn(
        `${file.path}: the peer accepts no ${syntaxName(from)} for this SOP class: decoded and sent in ${syntaxName(to)}`,
      );
    else this.log.info(text);
  }

  private retryOptions(): RetryOptions {
    return { policy: this.s.retry, signal: this.signal, warn: (m) => this.log.warn(m) };
  }

  private async fail(
    path: string,
    file: FileToSend | undefined,
    error: string,
    code: number,
    status?: number,
  ): Promise<Outcome> {
    if (this.s.rename && file) await rename(path, `${path}.bad`).catch(() => undefined);
    return {
      record: this.record(path, "Failure", file, error, status),
      failed: true,
      ...(this.s.halt ? { stop: code } : {}),
    };
  }

  private record(
    path: string,
    status: string,
    file?: FileToSend,
    error?: string,
    code?: number,
  ): FlatRecord {
    return resultRecord(this.s, { path, status, file, error, code, attempts: this.tries });
  }
}

/** The result record of one file. */
function resultRecord(
  s: SendSettings,
  r: {
    path: string;
    status: string;
    file?: FileToSend;
    error?: string;
    code?: number;
    attempts?: number;
  },
): FlatRecord {
  return {
    path: r.path,
    status: r.status,
    ...(r.code !== undefined ? { statusCode: statusHex(r.code) } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.file
      ? { SOPClassUID: r.file.header.sopClassUID, SOPInstanceUID: r.file.header.sopInstanceUID }
      : {}),
    ...(s.retry.retries ? { attempts: (r.file && r.attempts) || 1 } : {}),
  };
}

/** The distinct SOP classes and syntaxes of the files read. */
function kinds(jobs: Job[]): Kind[] {
  const seen = new Map<string, Kind>();
  for (const { file } of jobs) {
    if (!file) continue;
    const { sopClassUID, transferSyntax } = file.header;
    seen.set(`${sopClassUID}|${transferSyntax}`, { sopClassUID, transferSyntax });
  }
  return [...seen.values()];
}

async function inspect(path: string): Promise<Job> {
  try {
    return { path, file: await fileToSend(path) };
  } catch (e) {
    return { path, error: (e as Error).message };
  }
}

/** What a worker thread's sender is made from. */
interface WorkerData {
  settings: SendSettings;
  seed: Kind[];
}

const WORKER_ENTRY = "storescu-ts/send";
/**
 * The senders of a thread's lanes, one per lane (association), sharing one
 * context set: one per thread, as threads share no objects.
 */
function lanes(): (d: WorkerData, ctx: WorkerContext) => WorkerHandler<Job, Outcome> {
  let contexts: ContextSet | undefined;
  return (d, ctx) => {
    contexts ??= new ContextSet(d.settings.fallback, d.settings.decompress, d.seed);
    const sender = new Sender(d.settings, ctx.log, ctx.signal, contexts);
    return {
      run: (job) => sender.send(job),
      close: () => sender.close(),
      halts: (o) => o.stop !== undefined,
    };
  };
}
// In a worker thread started for WORKER_ENTRY: its lanes' senders.
serveWorker(WORKER_ENTRY, lanes());
/** The module a worker thread runs: the bundle, or this file from the sources. */
const WORKER_URL = new URL(import.meta.url);

/**
 * The send run: the input, the -j pool (app layer's runBatch; with -j 2 or
 * more, each association in a worker thread of its own), the result record
 * per file, the progress line and the exit status.
 */
export class SendRun {
  private stop?: { code: number };
  private sent = 0;
  private failed = 0;
  private bytes = 0;
  /** Files in all: known once the input has been read to its end. */
  private total?: number;

  constructor(
    private readonly s: SendSettings,
    private readonly io: Io,
    private readonly log: CliLogger,
    private readonly writer: RecordWriter | undefined,
    private readonly progress: Progress,
  ) {}

  async run(source: AsyncIterable<string>, prescan: boolean): Promise<number> {
    // With -j 2 or more the worker threads start now, while the files are read.
    let seeded: (seed: Kind[]) => void = () => undefined;
    const seed = new Promise<Kind[]>((resolve) => {
      seeded = resolve;
    });
    const send = this.senders(seed);
    try {
      const jobs = prescan ? await this.prescan(source) : this.feed(source);
      if (!jobs) return this.stop!.code;
      seeded(prescan ? kinds(jobs as Job[]) : []);
      await runBatch({
        source: jobs,
        jobs: send.capacity,
        signal: this.io.signal,
        halted: () => this.stop !== undefined,
        work: async (job) => {
          let outcome: Outcome;
          try {
            const o = await send.run(job);
            if (!o) return undefined;
            outcome = o;
          } catch (e) {
            this.stop ??= { code: Exit.FAILURE };
            throw e;
          }
          await this.apply(outcome);
          if (this.stop) send.halt();
          return undefined;
        },
      });
    } finally {
      seeded([]);
      await send.close();
    }
    if (this.stop) return this.stop.code;
    if (this.failed > 0) return Exit.PARTIAL;
    return Exit.OK;
  }

  /**
   * Read every file first, so one association serves them all. Halting at
   * a bad file stops before anything is sent (undefined), as DCMTK storescu
   * does when it reads the files first (-R, which is what storescu-ts
   * always proposes: only the input files' classes).
   */
  private async prescan(source: AsyncIterable<string>): Promise<Job[] | undefined> {
    const all: Job[] = [];
    for await (const path of source) {
      const job = await inspect(path);
      if (job.error && this.s.halt) {
        this.log.error(`Bad DICOM file: ${job.path}: ${job.error}; nothing sent`);
        await this.apply({
          record: resultRecord(this.s, {
            path: job.path,
            status: "Failure",
            error: job.error ?? "not a DICOM file",
          }),
          failed: true,
          stop: Exit.FAILURE,
        });
        return undefined;
      }
      all.push(job);
    }
    if (all.length === 0) throw new ExitError(Exit.FAILURE, "no input files to be sent");
    this.total = all.length;
    return all;
  }

  /**
   * Where files are sent (app layer's WorkerPool): each association's
   * Sender in this thread, or, with -j 2 or more where worker threads can
   * send in parallel (`defaultThreads`), in worker threads, started at once,
   * so that this thread is free for the input and the records.
   */
  private senders(seed: Promise<Kind[]>): WorkerPool<WorkerData, Job, Outcome> {
    const pool = new WorkerPool<WorkerData, Job, Outcome>({
      url: WORKER_URL,
      entry: WORKER_ENTRY,
      data: seed.then((kinds) => ({ settings: this.s, seed: kinds })),
      size: this.s.jobs,
      threads: this.s.jobs > 1 ? defaultThreads(this.s.jobs, this.io.env) : 0,
      local: lanes(),
      log: this.log,
      signal: this.io.signal,
    });
    pool.start();
    return pool;
  }

  /** Count a file's outcome, write its record, show progress, note a halt. */
  private async apply(o: Outcome): Promise<void> {
    if (o.sent !== undefined) {
      this.sent++;
      this.bytes += o.sent;
    } else if (o.failed) this.failed++;
    if (o.record && this.writer?.ok) await this.writer.write(o.record);
    if (o.record) this.showProgress();
    if (o.stop !== undefined) this.stop ??= { code: o.stop };
  }

  /** The paths as jobs; an invalid input line stops the run (exit 2). */
  private async *feed(source: AsyncIterable<string>): AsyncGenerator<Job> {
    let fed = 0;
    try {
      for await (const path of source) {
        fed++;
        yield { path };
      }
      if (!this.stop && !this.io.signal?.aborted) this.total = fed;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      this.log.error(e.message);
      this.stop ??= { code: Exit.USAGE };
    }
  }

  counts(): ProgressCounts {
    return {
      done: this.sent + this.failed,
      total: this.total,
      unit: "files",
      bytes: this.bytes,
      failed: this.failed,
    };
  }

  private showProgress(): void {
    this.progress.counts(this.counts());
  }
}
