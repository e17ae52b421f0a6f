/**
 * The send run of storescu-ts: the -j workers (app layer's runBatch), each
 * with its association and read buffer, proposing each file's own transfer
 * syntax and uncompressed fallbacks, the result record per file and the
 * exit status (DCMTK storescu's: the failed status >> 8, 10 on a peer abort).
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
  type FileToSend,
  type ScratchBuffer,
} from "@dicom-pipes/dimse/net";
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
import { runBatch, type ScuSettings } from "@dicom-pipes/dimse/app";

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

type Job = { path: string; file?: FileToSend; error?: string };

/** Distinct presentation contexts needed so far: each file's own syntax, plus uncompressed fallbacks per class. */
class ContextSet {
  private readonly keys = new Map<string, ContextProposal>();
  private version = 0;
  constructor(
    private readonly fallback: string[],
    private readonly decompress: SendDecompress,
  ) {}

  add(f: FileToSend): boolean {
    const cls = f.header.sopClassUID;
    const ts = f.header.transferSyntax;
    let added = false;
    const own = `${cls}|${ts}`;
    // A file we may decode is also offered uncompressed (with --decompress always: only so).
    const decodable = this.decompress !== "never" && decodableSyntax(ts);
    if (!this.keys.has(own) && !(decodable && this.decompress === "always")) {
      this.keys.set(own, { abstractSyntax: cls, transferSyntaxes: [ts] });
      added = true;
    }
    const fb = `${cls}|*`;
    if (
      !this.keys.has(fb) &&
      (isUncompressed(ts) || ts === TransferSyntax.DeflatedExplicitVRLittleEndian || decodable)
    ) {
      this.keys.set(fb, { abstractSyntax: cls, transferSyntaxes: this.fallback });
      added = true;
    }
    if (added) this.version++;
    return added;
  }

  get revision(): number {
    return this.version;
  }

  /** At most 128 proposals; the ones for `must` first. */
  proposals(must?: FileToSend): ContextProposal[] {
    const all = [...this.keys.values()];
    if (all.length <= 128) return all;
    const first = must ? all.filter((p) => p.abstractSyntax === must.header.sopClassUID) : [];
    return [...first, ...all.filter((p) => !first.includes(p))].slice(0, 128);
  }
}

/** What one of the -j workers keeps between files: its association and read buffer. */
interface Slot {
  assoc?: Association;
  scratch: ScratchBuffer;
  /** The revision of the context set the association was proposed from. */
  revision: number;
}

export class SendRun {
  private stop?: { code: number };
  private readonly contexts: ContextSet;
  private readonly idle: Slot[] = [];
  private readonly slots: Slot[] = [];
  private sent = 0;
  private failed = 0;
  private bytes = 0;
  /** Files in all: known once the input has been read to its end. */
  private total?: number;
  /** Attempts per file (association and C-STORE), for the result records with --retries. */
  private readonly tries = new WeakMap<FileToSend, number>();

  constructor(
    private readonly s: SendSettings,
    private readonly io: Io,
    private readonly log: CliLogger,
    private readonly writer: RecordWriter | undefined,
    private readonly progress: Progress,
  ) {
    this.contexts = new ContextSet(s.fallback, s.decompress);
  }

  async run(source: AsyncIterable<string>, prescan: boolean): Promise<number> {
    let jobs: AsyncIterable<Job> | Job[];
    if (prescan) {
      // Read every file first, so one association serves them all. Halting
      // at a bad file stops before anything is sent, as DCMTK storescu does
      // when it reads the files first (-R, which is what storescu-ts always
      // proposes: only the input files' classes).
      const all: Job[] = [];
      let bad: Job | undefined;
      for await (const path of source) {
        const job = await this.inspect(path);
        if (job.error && this.s.halt) {
          bad = job;
          break;
        }
        if (job.file) this.contexts.add(job.file);
        all.push(job);
      }
      if (all.length === 0 && !bad) throw new ExitError(Exit.FAILURE, "no input files to be sent");
      if (bad) {
        this.log.error(`Bad DICOM file: ${bad.path}: ${bad.error}; nothing sent`);
        await this.fail(bad.path, undefined, bad.error ?? "not a DICOM file", Exit.FAILURE);
        return this.stop!.code;
      }
      this.total = all.length;
      jobs = all;
    } else jobs = this.feed(source);
    try {
      await runBatch({
        source: jobs,
        jobs: this.s.jobs,
        signal: this.io.signal,
        halted: () => this.stop !== undefined,
        work: async (job) => {
          const slot = this.idle.pop() ?? this.slot();
          try {
            await this.send(slot, job);
          } finally {
            this.idle.push(slot);
          }
          return undefined;
        },
      });
    } finally {
      for (const slot of this.slots) if (slot.assoc) await this.finish(slot.assoc);
    }
    if (this.stop) return this.stop.code;
    if (this.failed > 0) return Exit.PARTIAL;
    return Exit.OK;
  }

  private slot(): Slot {
    const slot: Slot = { scratch: {}, revision: -1 };
    this.slots.push(slot);
    return slot;
  }

  private async inspect(path: string): Promise<Job> {
    try {
      return { path, file: await fileToSend(path) };
    } catch (e) {
      return { path, error: (e as Error).message };
    }
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

  /** Send one file on the slot's association (opened, or proposed again for a new SOP class, as needed). */
  private async send(slot: Slot, job: Job): Promise<void> {
    try {
      if (!job.file && !job.error) Object.assign(job, await this.inspect(job.path));
      if (job.error || !job.file) {
        this.log.error(`Bad DICOM file: ${job.path}: ${job.error}`);
        await this.fail(job.path, undefined, job.error ?? "not a DICOM file", Exit.FAILURE);
        return;
      }
      const file = job.file;
      this.contexts.add(file);
      this.tries.set(file, 1);
      if (slot.assoc && (slot.assoc.closed || slot.assoc.error)) slot.assoc = undefined;
      if (
        !slot.assoc ||
        (!contextForFile(slot.assoc, file, this.s.decompress) &&
          slot.revision !== this.contexts.revision)
      ) {
        if (slot.assoc) await this.finish(slot.assoc);
        slot.assoc = undefined;
        // The revision the proposals are taken from (others may add contexts while we connect).
        slot.revision = this.contexts.revision;
        const opened = await withRetries(this.retryOptions(), async () => ({
          value: await this.open(file),
        }));
        slot.assoc = opened.value;
        this.tries.set(file, opened.attempts);
      }
      const assoc = slot.assoc;
      const pc = contextForFile(assoc, file, this.s.decompress);
      if (!pc) {
        const msg = `No presentation context for: (${dcmtkPrefix(file.header.sopClassUID) ?? "unknown SOP class"}) ${file.header.sopClassUID} in ${file.header.transferSyntax}`;
        this.log.error(msg);
        await this.fail(file.path, file, msg, Exit.FAILURE);
        return;
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
              scratch: slot.scratch,
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
        this.tries.set(file, (this.tries.get(file) ?? 1) + stored.attempts - 1);
        status = r.status;
        const cls = statusClass(status);
        this.log.info(`Received Store Response (${statusText(status, "store")})`);
        if (cls === "Failure") {
          const comment = r.command.errorComment ? `: ${r.command.errorComment}` : "";
          this.log.error(
            `Store Failed, file: ${file.path}: ${statusText(status, "store")} (${statusHex(status)})${comment}`,
          );
          await this.fail(
            file.path,
            file,
            `${statusText(status, "store")}${comment}`,
            status >> 8 || Exit.FAILURE,
            status,
          );
          return;
        }
        if (cls === "Warning")
          this.log.warn(
            `Store warning, file: ${file.path}: ${statusText(status, "store")} (${statusHex(status)})`,
          );
      } catch (e) {
        if (e instanceof StoreError) {
          this.log.error(`Store Failed, file: ${file.path}: ${e.message}`);
          await this.fail(file.path, file, e.message, Exit.FAILURE);
          if (e.dimseTimeout) {
            assoc.abort();
            slot.assoc = undefined;
          }
          return;
        }
        if (e instanceof NetError) {
          this.log.error(`Store SCU Failed: ${e.condition}`);
          await this.result(file.path, "Failure", file, e.condition);
          this.failed++;
          this.stop ??= {
            code: e.kind === "aborted" || e.kind === "closed" ? Exit.PEER_ABORT : Exit.FAILURE,
          };
          slot.assoc = undefined;
          return;
        }
        throw e;
      }
      this.sent++;
      this.bytes += file.header.size;
      if (this.s.rename)
        await rename(file.path, `${file.path}.done`).catch((e: Error) =>
          this.log.warn(`cannot rename ${file.path}: ${e.message}`),
        );
      await this.result(file.path, statusClass(status), file, undefined, status);
      this.showProgress();
    } catch (e) {
      if (e instanceof NetError) {
        const failure = associationFailure(e);
        this.log.error(failure.message);
        for (const d of failure.details) this.log.error(d);
        this.stop ??= { code: failure.code };
        return;
      }
      this.stop ??= { code: Exit.FAILURE };
      throw e;
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
    return { policy: this.s.retry, signal: this.io.signal, warn: (m) => this.log.warn(m) };
  }

  private async open(file: FileToSend): Promise<Association> {
    return connectPeer(this.s, this.contexts.proposals(file), this.log);
  }

  private async finish(assoc: Association): Promise<void> {
    if (assoc.closed) return;
    if (this.s.abort) assoc.abort();
    else {
      this.log.info("Releasing Association");
      await assoc.release();
    }
  }

  private async fail(
    path: string,
    file: FileToSend | undefined,
    error: string,
    code: number,
    status?: number,
  ): Promise<void> {
    this.failed++;
    if (this.s.rename && file) await rename(path, `${path}.bad`).catch(() => undefined);
    await this.result(path, "Failure", file, error, status);
    this.showProgress();
    if (this.s.halt) this.stop ??= { code };
  }

  private async result(
    path: string,
    status: string,
    file?: FileToSend,
    error?: string,
    code?: number,
  ): Promise<void> {
    if (!this.writer?.ok) return;
    await this.writer.write({
      path,
      status,
      ...(code !== undefined ? { statusCode: statusHex(code) } : {}),
      ...(error ? { error } : {}),
      ...(file
        ? { SOPClassUID: file.header.sopClassUID, SOPInstanceUID: file.header.sopInstanceUID }
        : {}),
      ...(this.s.retry.retries ? { attempts: (file && this.tries.get(file)) ?? 1 } : {}),
    });
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
