/**
 * movescu-ts (and getscu-ts): DICOM retrieve (C-MOVE / C-GET) SCU,
 * DCMTK movescu/getscu compatible, with batch retrieval from records,
 * parallel associations, pacing, a resume journal and layouts.
 */
import { join, resolve } from "node:path";
import {
  getSopClass,
  moveSopClass,
  storageSopClasses,
  TransferSyntax,
  uidKeyword,
  type QueryModel,
} from "@dicom-pipes/dimse/dicom";
import {
  connect,
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
  type RetryPolicy,
  type SyntaxPreference,
} from "@dicom-pipes/dimse/net";
import { LayoutError, layoutFor, type FlatRecord, type Layout } from "@dicom-pipes/dimse/records";
import { processIo, RecordWriter, signalExitCode, type Io } from "@dicom-pipes/dimse/io";
import {
  associationFailure,
  checkFiles,
  choiceOption,
  recordFormat,
  retryPolicy,
  Exit,
  ExitError,
  exitTable,
  formatHelp,
  listenFailure,
  outputDecompressMode,
  outputDirectory,
  packageVersion,
  parseKeys,
  peerAndPort,
  Progress,
  progressWanted,
  runTool,
  shardSetting,
  startDcmtkTool,
  stdinHasData,
  timeouts,
  UsageError,
  type CliLogger,
  type ProgressCounts,
} from "@dicom-pipes/dimse/cli";
import { options } from "./options.js";
import {
  countRequests,
  LEVELS,
  requestSource,
  type Level,
  type RequestSourceOptions,
  type RetrieveRequest,
} from "./requests.js";
import { Journal } from "./journal.js";
import { parseWindow, Scheduler } from "./schedule.js";
import { fileRecord, Receiving, type Active } from "./receive.js";

export { processIo };

type Tool = "movescu-ts" | "getscu-ts";

function help(tool: Tool): string {
  const get = tool === "getscu-ts";
  return formatHelp(
    {
      tool,
      title: get ? "DICOM retrieve (C-GET) SCU" : "DICOM retrieve (C-MOVE) SCU",
      usage: `${tool} [options] peer port [dcmfile-in...]`,
      parameters: [
        ["peer", "hostname of DICOM peer"],
        ["port", "tcp/ip port number of peer"],
        ["dcmfile-in", "DICOM query file(s); - reads records from stdin"],
      ],
      description:
        "One retrieve per query (the -k keys, each query file, or each input record: findscu-ts\n" +
        `output, a CSV of UIDs…), at the record's level. Objects received (${get ? "C-GET" : "C-MOVE to self with\n+P, or with --get"}) are written exactly as received, placed by --layout; one result record per\n` +
        "request goes to stdout. Batch runs keep a journal and resume where they stopped.",
      examples: get
        ? [
            `${tool} -S -aec PACS pacs 104 -k QueryRetrieveLevel=STUDY -k StudyInstanceUID=1.2.3 -od data`,
          ]
        : [
            `${tool} -S -aec PACS -aem ME +P 11113 -od data pacs 104 -k QueryRetrieveLevel=STUDY -k StudyInstanceUID=1.2.3`,
            `findscu-ts -S -aec PACS pacs 104 -sr -k QueryRetrieveLevel=SERIES -k StudyInstanceUID=1.2.3 -k SeriesInstanceUID \\\n      | ${tool} -S -aec PACS -aem ME +P 11113 -od data --layout hierarchy pacs 104 > results.ndjson`,
            `${tool} -S -aec PACS -aem ME +P 11113 -od data --input studies.csv -j 4 --window 19:00-07:00 pacs 104`,
          ],
      epilogue:
        "Exit status follows DCMTK movescu: 68 when a retrieve completed with failed\n" +
        "sub-operations or delivered fewer objects than announced, 69 when one failed,\n" +
        `61 association failure, ${get ? "" : "60 port busy, "}45 output directory missing or not writable.\n\n` +
        exitTable(get ? [0, 1, 2, 45, 61, 68, 69] : [0, 1, 2, 45, 60, 61, 68, 69]),
    },
    options(tool),
  );
}

interface Settings {
  peer: string;
  port: number;
  aet: string;
  call: string;
  kind: "move" | "get";
  destination?: string;
  receivePort?: number;
  bind?: string;
  /** The retrieve model's SOP class. */
  sopClass: string;
  /** DCMTK's word for the operation in log lines. */
  label: "Move" | "C-GET";
  /** What each association proposes. */
  proposals: ContextProposal[];
  od: string;
  jobs: number;
  dimseTimeoutMs?: number;
  connectTimeoutMs?: number;
  retry: RetryPolicy;
  acseTimeoutMs: number;
  maxPdu?: number;
}

export async function main(
  argv: string[],
  io: Io = processIo(),
  tool: Tool = "movescu-ts",
): Promise<number> {
  const OPTIONS = options(tool);
  return runTool(tool, io, async (log) => {
    const p = startDcmtkTool(
      tool,
      argv,
      OPTIONS,
      io,
      log,
      () => help(tool),
      () => packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = p.opts;
    const { peer, port, rest } = peerAndPort(
      p.positionals,
      o,
      io.env,
      tool === "movescu-ts" && !o.get,
    );
    // movescu reports a bad key as a usage error, in these words.
    const keys = parseKeys(
      o.key,
      (e) => `bad key format or dictionary name not found in dictionary: ${e.key}`,
    );
    const files = rest.filter((f) => f !== "-");
    let input = o.input as string | undefined;
    if (rest.includes("-")) input = "-";
    if (input !== undefined && files.length)
      throw new UsageError("query files and --input cannot be combined");
    checkFiles(files);
    if (input === undefined && keys.length === 0 && files.length === 0) {
      if (!io.stdin.isTTY) input = "-";
      else throw new UsageError("no retrieve keys (-k), query files or input records given");
    } else if (input === undefined && stdinHasData(io))
      log.warn("stdin is not read; add '-' to use it as queries");
    const batch = input !== undefined;
    const kind: "move" | "get" = tool === "getscu-ts" || o.get ? "get" : "move";
    const receivePort = kind === "move" ? (o.port as number | undefined) : undefined;
    const receiving = kind === "get" || receivePort !== undefined;
    // The output directory holds received files and, by default, the batch journal.
    const od =
      receiving || (batch && !o.noJournal && o.journal === undefined)
        ? outputDirectory(o.outputDirectory, io)
        : resolve(String(o.outputDirectory ?? io.cwd ?? "."));
    let layout: Layout;
    try {
      layout = layoutFor((o.layout as string | undefined) ?? "dcmtk");
    } catch (e) {
      if (e instanceof LayoutError) throw new UsageError(e.message);
      throw e;
    }
    const level =
      o.level === undefined ? undefined : choiceOption<Level>(o.level, "--level", LEVELS, "STUDY");
    const { format, excel } = recordFormat(o.format, o.excel);
    const emit =
      o.emit === undefined ? undefined : choiceOption(o.emit, "--emit", ["files"], "files");
    if (emit && !receiving)
      throw new UsageError("--emit files needs objects to arrive here (+P or C-GET)");
    if (o.info && !receiving)
      throw new UsageError("--info needs objects to arrive here (+P or C-GET)");
    const seconds = (v: unknown) => (v === undefined ? undefined : Number(v) * 1000);
    const t = timeouts(o);
    // DCMTK's default is Patient Root; records from findscu-ts -S usually lack PatientID.
    const model = (o.model as QueryModel | undefined) ?? (batch ? "study" : "patient");
    const sopClass = kind === "move" ? moveSopClass(model) : getSopClass(model);
    const s: Settings = {
      peer,
      port,
      aet: (o.aetitle as string | undefined) ?? (kind === "get" ? "GETSCU" : "MOVESCU"),
      call: (o.call as string | undefined) ?? "ANY-SCP",
      kind,
      destination: kind === "move" ? ((o.move as string | undefined) ?? "MOVESCU") : undefined,
      receivePort,
      bind: o.bind as string | undefined,
      sopClass,
      label: kind === "move" ? "Move" : "C-GET",
      proposals: [
        { abstractSyntax: sopClass, transferSyntaxes: PROPOSED_SYNTAXES },
        ...(kind === "get" ? getStorageContexts() : []),
      ],
      od,
      jobs: (o.jobs as number | undefined) ?? 1,
      dimseTimeoutMs: t.dimse,
      connectTimeoutMs: t.connect,
      acseTimeoutMs: t.acse,
      maxPdu: o.maxPdu as number | undefined,
      retry: retryPolicy(o),
    };
    const shard = shardSetting(o.shard, batch);
    // Shards may share an output directory: each keeps its own journal there.
    const journalName = shard
      ? `.movescu-ts.shard-${shard.index}-of-${shard.count}.journal`
      : ".movescu-ts.journal";
    const journalPath = o.noJournal
      ? undefined
      : ((o.journal as string | undefined) ?? (batch ? join(od, journalName) : undefined));
    const journal = journalPath ? new Journal(journalPath) : undefined;
    const resumed = journal?.load() ?? 0;
    if (resumed) log.info(`journal ${journalPath}: ${resumed} requests already complete`);
    const writer = o.noOutput ? undefined : new RecordWriter(io.stdout, { format, excel });
    const scheduler = new Scheduler({
      throttleMs: seconds(o.throttle),
      batchSize: o.batchSize as number | undefined,
      batchWaitMs: seconds(o.batchWait),
      window:
        o.window !== undefined
          ? parseWindow(String(o.window), o.tz as string | undefined)
          : undefined,
      signal: io.signal,
      log: (m) => log.info(m),
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
    const receive = receiving
      ? new Receiving({
          od,
          layout,
          info: Boolean(o.info),
          ignore: Boolean(o.ignore),
          fsync: Boolean(o.fsync),
          decompress: outputDecompressMode(o),
          tsPref: ((o.tsPref as string | undefined) ?? "sender") as SyntaxPreference,
          log,
          onFile: emit
            ? async (inst, a) => void (await writer?.write(fileRecord(inst, a)))
            : undefined,
        })
      : undefined;
    const requests: RequestSourceOptions = {
      keys,
      files,
      input,
      stdin: io.stdin,
      model,
      defaultLevel: level,
      keepGoing: Boolean(o.keepGoing),
      shard,
      onInvalid: (err) => log.error(`${err.message} (skipped)`),
    };
    const source = requestSource(requests);
    const run = new RetrieveRun(s, io, log, writer, journal, scheduler, progress, receive);
    // The total, for percent and ETA, comes from a second reading of a file input (not of stdin).
    if (progress.enabled) void countRequests(requests).then((n) => (run.total = n));
    try {
      return await run.run(source);
    } finally {
      journal?.close();
      progress.finish(log, run.counts());
      await writer?.end();
    }
  });
}

const PROPOSED_SYNTAXES = [
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
];

/** Storage classes proposed for C-GET: the common ones first, at most 127 (one context is the retrieve model's). */
function getStorageContexts(): ContextProposal[] {
  const common = [
    "CTImageStorage",
    "EnhancedCTImageStorage",
    "MRImageStorage",
    "EnhancedMRImageStorage",
    "ComputedRadiographyImageStorage",
    "DigitalXRayImageStorageForPresentation",
    "DigitalXRayImageStorageForProcessing",
    "DigitalMammographyXRayImageStorageForPresentation",
    "DigitalMammographyXRayImageStorageForProcessing",
    "UltrasoundImageStorage",
    "UltrasoundMultiFrameImageStorage",
    "NuclearMedicineImageStorage",
    "PositronEmissionTomographyImageStorage",
    "SecondaryCaptureImageStorage",
    "XRayAngiographicImageStorage",
    "XRayRadiofluoroscopicImageStorage",
    "RTImageStorage",
    "RTDoseStorage",
    "RTStructureSetStorage",
    "RTPlanStorage",
    "BasicTextSRStorage",
    "EnhancedSRStorage",
    "ComprehensiveSRStorage",
    "KeyObjectSelectionDocumentStorage",
    "GrayscaleSoftcopyPresentationStateStorage",
    "SegmentationStorage",
    "EncapsulatedPDFStorage",
  ];
  const classes = storageSopClasses();
  const byKeyword = new Map(classes.map((u) => [uidKeyword(u) ?? u, u]));
  const first = common.map((k) => byKeyword.get(k)).filter((u): u is string => Boolean(u));
  const all = [...new Set([...first, ...classes])].slice(0, 127);
  return all.map((u) => ({
    abstractSyntax: u,
    transferSyntaxes: PROPOSED_SYNTAXES,
    role: { scu: false, scp: true },
  }));
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

class RetrieveRun {
  private failures = 0;
  private warnings = 0;
  private done = 0;
  private skipped = 0;
  private associationError?: NetError;
  private aborted?: number;
  private listener?: DicomServer;
  private nextMessageId = 1;
  /** Requests in all, once counted. */
  total?: number;

  constructor(
    private readonly s: Settings,
    private readonly io: Io,
    private readonly log: CliLogger,
    private readonly writer: RecordWriter | undefined,
    private readonly journal: Journal | undefined,
    private readonly scheduler: Scheduler,
    private readonly progress: Progress,
    private readonly receive: Receiving | undefined,
  ) {}

  async run(source: AsyncGenerator<RetrieveRequest>): Promise<number> {
    // Listen first: a busy port must leave nothing behind in -od.
    if (this.receive && this.s.kind === "move") {
      try {
        this.listener = await this.receive.listen(this.s.receivePort!, this.s);
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
      await Promise.all(Array.from({ length: this.s.jobs }, () => this.worker(source)));
    } finally {
      await this.listener?.close(2000);
      await this.receive?.removeTemps();
    }
    const sig = signalExitCode(this.io.signal);
    if (sig !== undefined) return sig;
    if (this.associationError) throw associationFailure(this.associationError);
    if (this.aborted !== undefined) return this.aborted;
    if (this.failures) return Exit.RETRIEVE_FAILURE;
    if (this.warnings) return Exit.RETRIEVE_WARNING;
    return Exit.OK;
  }

  /** A request is the same request only against the same archive, by the same kind, to the same destination. */
  private journalKey(req: RetrieveRequest): string {
    const s = this.s;
    return `${s.kind} ${s.call}@${s.peer}:${s.port}${s.destination ? ` to ${s.destination}` : ""} ${req.key}`;
  }

  private async open(): Promise<Association> {
    const assoc = await connect({
      host: this.s.peer,
      port: this.s.port,
      callingAet: this.s.aet,
      calledAet: this.s.call,
      contexts: this.s.proposals,
      maxPdu: this.s.maxPdu,
      connectTimeoutMs: this.s.connectTimeoutMs,
      acseTimeoutMs: this.s.acseTimeoutMs,
      log: this.log,
    });
    if (this.s.kind === "get") this.receive!.attachGet(assoc);
    return assoc;
  }

  private async worker(source: AsyncGenerator<RetrieveRequest>): Promise<void> {
    let assoc: Association | undefined;
    try {
      for (;;) {
        if (this.io.signal?.aborted || this.associationError || this.aborted !== undefined) break;
        const next = await source.next();
        if (next.done) break;
        const req = next.value;
        const previous = this.journal?.completed(this.journalKey(req));
        if (previous) {
          this.skipped++;
          this.log.info(`${req.where}: already retrieved (journal)`);
          await this.writer?.write(previous);
          continue;
        }
        await this.scheduler.beforeRequest();
        if (this.io.signal?.aborted) break;
        // Attempts of this request: transient association failures and outcomes are retried (--retries).
        let retry: { what: string; reason: string } | undefined;
        for (let attempts = 1; ; attempts++) {
          if (
            retry &&
            !(await retryWait(
              { ...this.retryOptions(), what: retry.what },
              attempts - 1,
              retry.reason,
            ))
          )
            break;
          if (!assoc || assoc.closed || assoc.error) {
            try {
              assoc = await this.open();
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
              break;
            }
          }
          const reason = await this.one(assoc, req, attempts);
          if (reason === undefined) break;
          retry = { what: this.s.kind === "move" ? "C-MOVE" : "C-GET", reason };
        }
        if (this.associationError || this.io.signal?.aborted) break;
        await this.scheduler.afterRequest();
      }
    } finally {
      if (assoc && !assoc.closed) {
        this.log.info("Releasing Association");
        await assoc.release();
      }
    }
  }

  private retryOptions(): RetryOptions {
    return { policy: this.s.retry, signal: this.io.signal, warn: (m) => this.log.warn(m) };
  }

  /** One attempt of a request; the reason to retry it when it failed in a transient way and retries are left. */
  private async one(
    assoc: Association,
    req: RetrieveRequest,
    attempts: number,
  ): Promise<string | undefined> {
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
        dimseTimeoutMs: this.s.dimseTimeoutMs,
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
    if (outcome === "Success") this.journal?.record(this.journalKey(req), result);
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
