/** storescu-ts: DICOM storage (C-STORE) SCU, DCMTK storescu compatible, parallel, one result per file. */
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
  type RetryPolicy,
  type ContextProposal,
  type FileToSend,
  type ScratchBuffer,
} from "@dicom-pipes/dimse/net";
import {
  InputError,
  processIo,
  RecordWriter,
  signalExitCode,
  type Io,
} from "@dicom-pipes/dimse/io";
import {
  connectPeer,
  associationFailure,
  recordFormat,
  retryPolicy,
  sendDecompress,
  Exit,
  ExitError,
  exitTable,
  formatHelp,
  packageVersion,
  peerAndPort,
  Progress,
  progressWanted,
  runTool,
  startDcmtkTool,
  stdinHasData,
  timeouts,
  UsageError,
  type CliLogger,
  type ProgressCounts,
  type SendDecompress,
} from "@dicom-pipes/dimse/cli";
import { OPTIONS } from "./options.js";
import { argumentFiles, openPaths, streamPaths, wildcard } from "./inputs.js";

export { processIo };

const TOOL = "storescu-ts";

function help(): string {
  return formatHelp(
    {
      tool: TOOL,
      title: "DICOM storage (C-STORE) SCU",
      usage: `${TOOL} [options] peer port [dcmfile-in...]`,
      parameters: [
        ["peer", "hostname of DICOM peer"],
        ["port", "tcp/ip port number of peer"],
        [
          "dcmfile-in",
          'DICOM file or directory to be transmitted; without\nany, paths are read from stdin (lines or NDJSON "path")',
        ],
      ],
      description:
        "Sends files exactly as they are (no re-encoding) in their own transfer syntax when\n" +
        "the peer accepts it, converting only between uncompressed syntaxes otherwise.\n" +
        "Writes one result record per file on stdout; logs and progress on stderr.",
      examples: [
        `${TOOL} -aec PACS pacs 104 +sd +r /data/study`,
        `storescp-ts -od /data 11112 | ${TOOL} -aec ARCHIVE archive 104     # forward what arrives`,
        `find /data -name '*.dcm' | ${TOOL} -j 4 -nh -aec PACS pacs 104 > results.ndjson`,
      ],
      epilogue:
        "Exit status as DCMTK storescu where it signals something: when a store fails\n" +
        "(halting, the default) the status is the failed status >> 8 (0xA700 → 167), and 10\n" +
        "when the peer aborts; -nh exits 3 when some files failed (DCMTK: 0).\n\n" +
        exitTable([0, 1, 2, 3, 10, 61]),
    },
    OPTIONS,
  );
}

interface Settings {
  peer: string;
  port: number;
  aet: string;
  call: string;
  jobs: number;
  halt: boolean;
  rename: boolean;
  abort: boolean;
  fallback: string[];
  timeouts: { connect?: number; acse: number; dimse?: number };
  maxPdu?: number;
  bind?: string;
  retry: RetryPolicy;
  /** `--decompress`: when a compressed file is decoded and sent uncompressed. */
  decompress: SendDecompress;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help, () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = p.opts;
    const { peer, port, rest: files } = peerAndPort(p.positionals, p.opts, io.env);
    const { format, excel } = recordFormat(o.format, o.excel);
    const {
      ExplicitVRLittleEndian: LE,
      ExplicitVRBigEndian: BE,
      ImplicitVRLittleEndian: IM,
    } = TransferSyntax;
    const proposal = (o.proposal as string | undefined) ?? "uncompr";
    const fallback =
      proposal === "implicit" ? [IM] : proposal === "big" ? [BE, LE, IM] : [LE, BE, IM];
    const s: Settings = {
      peer,
      port,
      aet: (o.aetitle as string | undefined) ?? "STORESCU",
      call: (o.call as string | undefined) ?? "ANY-SCP",
      jobs: (o.jobs as number | undefined) ?? 1,
      halt: (o.halt as boolean | undefined) ?? true,
      rename: Boolean(o.rename),
      abort: Boolean(o.abortAssoc),
      fallback,
      timeouts: timeouts(o),
      maxPdu: o.maxPdu as number | undefined,
      bind: o.bind as string | undefined,
      retry: retryPolicy(o),
      decompress: sendDecompress(o),
    };
    const inputArg = o.input as string | undefined;
    const useStdinArg = files.includes("-");
    const argFiles = files.filter((f) => f !== "-");
    if (inputArg !== undefined && argFiles.length)
      throw new UsageError("--input and file arguments cannot be combined");
    let source: AsyncIterable<string>;
    let prescan = false;
    if (argFiles.length && !useStdinArg) {
      source = argumentFiles(argFiles, {
        scanDirectories: Boolean(o.scanDirectories),
        recurse: Boolean(o.recurse),
        pattern: o.scanPattern !== undefined ? wildcard(String(o.scanPattern)) : undefined,
        log,
      });
      prescan = true;
      if (inputArg === undefined && stdinHasData(io))
        log.warn("stdin is not read; it is read only without file arguments");
    } else if (inputArg !== undefined || useStdinArg || !io.stdin.isTTY) {
      const name = inputArg ?? "-";
      source = streamPaths(
        openPaths(name, io.stdin),
        name === "-" ? "stdin" : name,
        io.cwd ?? process.cwd(),
      );
    } else throw new UsageError("no input files: give files or directories, or paths on stdin");
    const writer = o.noOutput
      ? undefined
      : new RecordWriter(io.stdout, {
          format,
          excel,
          columns:
            format === "ndjson"
              ? undefined
              : [
                  "path",
                  "status",
                  "statusCode",
                  "error",
                  "SOPClassUID",
                  "SOPInstanceUID",
                  ...(s.retry.retries ? ["attempts"] : []),
                ],
        });
    const progress = new Progress({
      stream: io.stderr,
      enabled: progressWanted(
        io.stderr,
        io.env ?? {},
        log.level === "fatal" || log.level === "error",
        Boolean(o.noProgress),
      ),
    });
    const run = new SendRun(s, io, log, writer, progress);
    let code: number;
    try {
      code = await run.run(source, prescan);
    } finally {
      progress.finish(log, run.counts());
    }
    await writer?.end();
    return signalExitCode(io.signal) ?? code;
  });
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
    // A file we may decode is also offered uncompressed (with --decompress always: only so).
    const decodable = this.decompress !== "never" && decodableSyntax(ts);
    const own = `${cls}|${ts}`;
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

class SendRun {
  private queue: Job[] = [];
  private waiters: Array<() => void> = [];
  private done = false;
  private stop?: { code: number };
  private readonly contexts: ContextSet;
  private sent = 0;
  private failed = 0;
  private bytes = 0;
  /** Files in all: known once the input has been read to its end. */
  private total?: number;
  private fed = 0;
  /** Attempts per file (association and C-STORE), for the result records with --retries. */
  private readonly tries = new WeakMap<FileToSend, number>();

  constructor(
    private readonly s: Settings,
    private readonly io: Io,
    private readonly log: CliLogger,
    private readonly writer: RecordWriter | undefined,
    private readonly progress: Progress,
  ) {
    this.contexts = new ContextSet(s.fallback, s.decompress);
  }

  async run(source: AsyncIterable<string>, prescan: boolean): Promise<number> {
    if (prescan) {
      // Read every file first, so one association serves them all. Halting
      // at a bad file stops before anything is sent, as DCMTK storescu does
      // when it reads the files first (-R, which is what storescu-ts always
      // proposes: only the input files' classes).
      const jobs: Job[] = [];
      let bad: Job | undefined;
      for await (const path of source) {
        const job = await this.inspect(path);
        if (job.error && this.s.halt) {
          bad = job;
          break;
        }
        if (job.file) this.contexts.add(job.file);
        jobs.push(job);
      }
      if (jobs.length === 0 && !bad) throw new ExitError(Exit.FAILURE, "no input files to be sent");
      if (bad) {
        this.log.error(`Bad DICOM file: ${bad.path}: ${bad.error}; nothing sent`);
        await this.fail(bad.path, undefined, bad.error ?? "not a DICOM file", Exit.FAILURE);
        return this.stop!.code;
      }
      this.total = jobs.length;
      this.queue = jobs;
      this.done = true;
      if (jobs.length) await this.workers();
    } else {
      const feeding = this.feed(source);
      await Promise.all([feeding, this.workers()]);
    }
    if (this.stop) return this.stop.code;
    if (this.failed > 0) return Exit.PARTIAL;
    return Exit.OK;
  }

  private async inspect(path: string): Promise<Job> {
    try {
      return { path, file: await fileToSend(path) };
    } catch (e) {
      return { path, error: (e as Error).message };
    }
  }

  private async feed(source: AsyncIterable<string>): Promise<void> {
    try {
      for await (const path of source) {
        if (this.stop || this.io.signal?.aborted) break;
        this.queue.push({ path });
        this.fed++;
        this.wake();
        while (this.queue.length > 256 && !this.stop)
          await new Promise<void>((r) => setTimeout(r, 5));
      }
    } catch (e) {
      if (e instanceof InputError) {
        this.log.error(e.message);
        this.stop ??= { code: Exit.USAGE };
      } else throw e;
    } finally {
      if (!this.stop && !this.io.signal?.aborted) this.total = this.fed;
      this.done = true;
      this.wake();
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async next(): Promise<Job | undefined> {
    for (;;) {
      if (this.stop || this.io.signal?.aborted) return undefined;
      const j = this.queue.shift();
      if (j) return j;
      if (this.done) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private async workers(): Promise<void> {
    await Promise.all(Array.from({ length: this.s.jobs }, () => this.worker()));
  }

  private async worker(): Promise<void> {
    let assoc: Association | undefined;
    const scratch: ScratchBuffer = {};
    let revision = -1;
    try {
      for (;;) {
        const job = await this.next();
        if (!job) break;
        if (!job.file && !job.error) Object.assign(job, await this.inspect(job.path));
        if (job.error || !job.file) {
          this.log.error(`Bad DICOM file: ${job.path}: ${job.error}`);
          await this.fail(job.path, undefined, job.error ?? "not a DICOM file", Exit.FAILURE);
          continue;
        }
        const file = job.file;
        this.contexts.add(file);
        this.tries.set(file, 1);
        if (assoc && (assoc.closed || assoc.error)) assoc = undefined;
        if (
          !assoc ||
          (!contextForFile(assoc, file, this.s.decompress) && revision !== this.contexts.revision)
        ) {
          if (assoc) await this.finish(assoc);
          // The revision the proposals are taken from (others may add contexts while we connect).
          revision = this.contexts.revision;
          const opened = await withRetries(this.retryOptions(), async () => ({
            value: await this.open(file),
          }));
          assoc = opened.value;
          this.tries.set(file, opened.attempts);
        }
        const pc = contextForFile(assoc, file, this.s.decompress);
        if (!pc) {
          const msg = `No presentation context for: (${dcmtkPrefix(file.header.sopClassUID) ?? "unknown SOP class"}) ${file.header.sopClassUID} in ${file.header.transferSyntax}`;
          this.log.error(msg);
          await this.fail(file.path, file, msg, Exit.FAILURE);
          continue;
        }
        this.log.info(`Sending file: ${file.path}`);
        if (pc.transferSyntax !== file.header.transferSyntax)
          this.converting(file, pc.transferSyntax);
        let status: number;
        try {
          const a = assoc;
          const stored = await withRetries(
            { ...this.retryOptions(), what: "C-STORE" },
            async () => {
              const r = await storeFile(a, file, pc, {
                dimseTimeoutMs: this.s.timeouts.dimse,
                scratch,
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
            continue;
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
              assoc = undefined;
            }
            continue;
          }
          if (e instanceof NetError) {
            this.log.error(`Store SCU Failed: ${e.condition}`);
            await this.result(file.path, "Failure", file, e.condition);
            this.failed++;
            this.stop ??= {
              code: e.kind === "aborted" || e.kind === "closed" ? Exit.PEER_ABORT : Exit.FAILURE,
            };
            assoc = undefined;
            break;
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
      }
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
    } finally {
      if (assoc) await this.finish(assoc);
    }
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
