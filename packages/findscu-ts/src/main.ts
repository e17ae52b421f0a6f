/** findscu-ts: DICOM query (C-FIND) SCU, DCMTK findscu compatible, with NDJSON/CSV/TSV output. */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Dataset,
  dumpLines,
  encodePart10,
  findSopClass,
  newUid,
  parseDataset,
  responseBlock,
  SopClass,
  syntaxInfo,
  syntaxName,
  Tags,
  TransferSyntax,
  type QueryModel,
} from "@dicom-pipes/dimse/dicom";
import {
  find,
  isTransientStatus,
  NetError,
  retryWait,
  statusClass,
  statusHex,
  statusText,
  withRetries,
  type AcceptedContext,
  type Association,
  type Response,
  type RetryPolicy,
} from "@dicom-pipes/dimse/net";
import {
  datasetToFlat,
  datasetToFlatJson,
  datasetToPs318,
  type FlatRecord,
  type ParsedKey,
  type Shard,
} from "@dicom-pipes/dimse/records";
import {
  processIo,
  readAhead,
  RecordWriter,
  signalExitCode,
  type Io,
  type OutputFormat,
  type TableOptions,
} from "@dicom-pipes/dimse/io";
import {
  associationFailure,
  connectPeer,
  endAssociation,
  checkFiles,
  choiceOption,
  Exit,
  outputDirectory,
  packageVersion,
  parseKeys,
  peerAndPort,
  recordFormat,
  retryPolicy,
  runTool,
  shardSetting,
  startDcmtkTool,
  tableSetting,
  unmatchedSetting,
  stdinHasData,
  timeouts,
  UsageError,
  type CliLogger,
  type HelpText,
} from "@dicom-pipes/dimse/cli";
import { OPTIONS } from "./options.js";
import { querySource, type Query } from "./queries.js";
import { DateSplitter } from "./split.js";
import { RowOutcomes } from "./unmatched.js";

export { processIo };

const TOOL = "findscu-ts";

function help(): HelpText {
  return {
    tool: TOOL,
    title: "DICOM query (C-FIND) SCU",
    usage: `${TOOL} [options] peer port [dcmfile-in...]`,
    parameters: [
      ["peer", "hostname of DICOM peer"],
      ["port", "tcp/ip port number of peer"],
      ["dcmfile-in", "DICOM query file(s); - reads a query table from stdin"],
    ],
    description:
      "Writes one record per match on stdout (NDJSON by default) and DCMTK's response\n" +
      "dump on stderr. Logs, warnings and the dump go to stderr.",
    examples: [
      `${TOOL} -S -aec PACS pacs 104 -k QueryRetrieveLevel=STUDY -k StudyDate=20240101-20240131 -k StudyInstanceUID -k PatientID -sr > studies.ndjson`,
      `${TOOL} -S -aec PACS pacs 104 --queries accessions.csv -k StudyInstanceUID -sr --format tsv > studies.tsv`,
      `${TOOL} -S -aec PACS pacs 104 -k QueryRetrieveLevel=STUDY -k StudyDate=20150101-20241231 -k StudyInstanceUID --split-dates --max-results 1000 -sr`,
    ],
    epilogue:
      "Exit status differs from DCMTK findscu where findscu reports success for a failure:\n" +
      "a failed query, a bad -k key and a DIMSE timeout exit non-zero.",
    exits: [0, 1, 2, 3, 45, 61],
  };
}

interface Settings {
  timeouts: { connect?: number; acse: number; dimse?: number };
  peer: string;
  port: number;
  model: QueryModel;
  keys: ParsedKey[];
  files: string[];
  table?: string;
  format: OutputFormat;
  excel: boolean;
  jsonModel: boolean;
  bulk: "omit" | "inline";
  output: boolean;
  showDump: boolean;
  extract?: { dir: string; limit?: number };
  repeat: number;
  cancelAfter?: number;
  abort: boolean;
  split?: { maxResults?: number };
  batch: boolean;
  aet: string;
  call: string;
  maxPdu?: number;
  bind?: string;
  retry: RetryPolicy;
  level?: string;
  keepGoing: boolean;
  shard?: Shard;
  proposal?: string;
  tableOptions?: TableOptions;
  unmatched?: string;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help(), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const s = settings(p.opts, p.positionals, io, log);
    return run(s, io, log);
  });
}

function settings(
  o: Record<string, unknown>,
  positionals: string[],
  io: Io,
  log: CliLogger,
): Settings {
  const { peer, port, rest } = peerAndPort(positionals, o, io.env);
  const keys = parseKeys(o.key);
  let table = o.queries as string | undefined;
  const files = rest.filter((f) => f !== "-");
  if (rest.includes("-")) {
    if (table !== undefined && table !== "-")
      throw new UsageError("--queries and - (stdin) both given");
    table = "-";
  }
  if (table !== undefined && files.length)
    throw new UsageError("query files and a query table cannot be combined");
  checkFiles(table !== undefined && table !== "-" ? [...files, table] : files);
  if (table === undefined && keys.length === 0 && files.length === 0) {
    if (!io.stdin.isTTY) table = "-";
    else throw new UsageError("no query keys (-k) and no query file given");
  } else if (table === undefined && stdinHasData(io))
    log.warn("stdin is not read; add '-' to use it as queries");
  const { format, excel } = recordFormat(o.format, o.excel);
  const bulk = choiceOption(o.bulk, "--bulk", ["omit", "inline"], "omit");
  if (o.jsonModel && format !== "ndjson")
    throw new UsageError("--json-model needs --format ndjson");
  const level =
    o.level === undefined
      ? undefined
      : choiceOption(o.level, "--level", ["PATIENT", "STUDY", "SERIES", "IMAGE"], "STUDY");
  const mentionsLevel = keys.some(
    (k) => k.path.length === 1 && k.path[0]!.tag === Tags.QueryRetrieveLevel,
  );
  const model =
    (o.model as QueryModel | undefined) ??
    (mentionsLevel || table !== undefined || level ? "study" : "worklist");
  if (o.maxResults !== undefined && !o.splitDates)
    throw new UsageError("--max-results needs --split-dates");
  const extract = o.extract
    ? { dir: outputDirectory(o.outputDirectory, io), limit: o.limitOutput as number | undefined }
    : undefined;
  const showDump = (o.showResponses as boolean | undefined) ?? !extract;
  const batch = table !== undefined || files.length > 0;
  return {
    peer,
    port,
    model,
    keys,
    files,
    table,
    format,
    excel,
    jsonModel: Boolean(o.jsonModel),
    bulk,
    output: !o.noOutput,
    showDump,
    extract,
    repeat: (o.repeat as number | undefined) ?? 1,
    cancelAfter: o.cancel as number | undefined,
    abort: Boolean(o.abortAssoc),
    split: o.splitDates ? { maxResults: o.maxResults as number | undefined } : undefined,
    batch,
    aet: (o.aetitle as string | undefined) ?? "FINDSCU",
    call: (o.call as string | undefined) ?? "ANY-SCP",
    timeouts: timeouts(o),
    maxPdu: o.maxPdu as number | undefined,
    bind: o.bind as string | undefined,
    retry: retryPolicy(o),
    level: model === "worklist" ? level : (level ?? "STUDY"),
    keepGoing: Boolean(o.keepGoing),
    shard: shardSetting(o.shard, table !== undefined),
    proposal: o.proposal as string | undefined,
    tableOptions: tableSetting(o, table !== undefined, log),
    unmatched: o.unmatched as string | undefined,
  };
}

function proposal(p: string | undefined): string[] {
  const {
    ExplicitVRLittleEndian: LE,
    ExplicitVRBigEndian: BE,
    ImplicitVRLittleEndian: IM,
    DeflatedExplicitVRLittleEndian: DF,
  } = TransferSyntax;
  switch (p) {
    case "implicit":
      return [IM];
    case "big":
      return [BE, LE, IM];
    case "deflated":
      return [DF, LE, BE, IM];
    default:
      return [LE, BE, IM];
  }
}

async function run(s: Settings, io: Io, log: CliLogger): Promise<number> {
  const sopClass = findSopClass(s.model);
  const writer = new RecordWriter(io.stdout, {
    format: s.format,
    excel: s.excel,
    onDroppedKey: (k) =>
      log.warn(
        `${k} is not a column of the ${s.format.toUpperCase()} output (columns come from the first query and response); dropped`,
      ),
  });
  let invalidRows = 0;
  const unmatched = await unmatchedSetting(s.unmatched, s.table !== undefined);
  const outcomes = new RowOutcomes(s.output ? writer : undefined, unmatched);
  // The first query is read before associating.
  const queries = await readAhead(
    querySource({
      keys: s.keys,
      files: s.files,
      table: s.table,
      stdin: io.stdin,
      defaultLevel: s.level,
      keepGoing: s.keepGoing,
      shard: s.shard,
      model: s.model,
      onDropped: (where, keywords) =>
        log.info(`${where}: not keys at this query's level, not sent: ${keywords.join(", ")}`),
      onInvalid: (err) => {
        invalidRows++;
        log.error(`${err.message} (skipped)`);
      },
      tableOptions: s.tableOptions,
      onColumns: (columns) => unmatched?.setColumns(columns),
    }),
  );
  let assoc: Association;
  try {
    const opened = await withRetries(
      { policy: s.retry, signal: io.signal, warn: (m) => log.warn(m) },
      async () => ({
        value: await connectPeer(
          s,
          [{ abstractSyntax: sopClass, transferSyntaxes: proposal(s.proposal) }],
          log,
        ),
      }),
    );
    assoc = opened.value;
  } catch (e) {
    if (e instanceof NetError) throw associationFailure(e);
    throw e;
  }
  const state = new RunState(s, io, log, writer, assoc, sopClass);
  let failed = false;
  try {
    for await (const q of queries) {
      const before = { matches: state.matches, failed: state.failedQueries };
      for (let r = 0; r < s.repeat; r++) {
        if (!state.alive()) break;
        if (s.split) await new DateSplitter(state, s.split.maxResults).run(q);
        else await state.query(q, q.dataset);
      }
      if (!state.alive()) break;
      await outcomes.after(
        q,
        state.matches - before.matches,
        state.failedQueries > before.failed ? (state.lastError ?? "failed") : undefined,
      );
    }
  } catch (e) {
    if (!(e instanceof NetError)) {
      await endAssociation(assoc, s.abort, log);
      throw e;
    }
    log.error(`Find SCU Failed: ${e.condition}`);
    assoc.abort();
    failed = true;
  }
  if (!failed) await endAssociation(assoc, s.abort, log);
  await outcomes.finish(!failed && state.alive());
  await writer.end();
  const sig = signalExitCode(io.signal);
  if (sig !== undefined) return sig;
  if (failed) return Exit.FAILURE;
  if (state.failedQueries > 0)
    return state.failedQueries === state.queries &&
      !s.keepGoing &&
      state.incomplete === 0 &&
      invalidRows === 0
      ? Exit.FAILURE
      : Exit.PARTIAL;
  if (invalidRows > 0 || state.incomplete > 0) return Exit.PARTIAL;
  return Exit.OK;
}

/** Shared state of one run: the association, output, counters. */
export class RunState {
  /** DCMTK's response counter (counts final responses too). */
  counter = 0;
  extracted = 0;
  queries = 0;
  failedQueries = 0;
  incomplete = 0;
  matches = 0;
  /** The last failed query's status. */
  lastError?: string;
  private columnsFixed = false;

  constructor(
    readonly s: Settings,
    readonly io: Io,
    readonly log: CliLogger,
    readonly writer: RecordWriter,
    readonly assoc: Association,
    readonly sopClass: string,
  ) {}

  /** False once the reader went away or a signal arrived. */
  alive(): boolean {
    return this.writer.ok && !this.io.signal?.aborted;
  }

  /**
   * Run one C-FIND; `onMatch` may veto output of a match (deduplication).
   * Returns the number of pending responses and the final response.
   */
  async query(
    q: Query,
    identifier: Dataset,
    onMatch?: (ds: Dataset) => boolean,
  ): Promise<{ pending: number; final?: Response }> {
    // A transient failure status (0xA7xx, 0xC001) is retried only when no match was emitted: nothing is written twice.
    const o = {
      policy: this.s.retry,
      signal: this.io.signal,
      warn: (m: string) => this.log.warn(m),
      what: "C-FIND",
    };
    this.queries++;
    for (let n = 1; ; n++) {
      const r = await this.queryOnce(q, identifier, onMatch, n <= o.policy.retries);
      const status = r.final?.status;
      if (r.pending > 0 || status === undefined || !isTransientStatus(status)) return r;
      if (!(await retryWait(o, n, `${statusText(status, "find")} (${statusHex(status)})`)))
        return r;
    }
  }

  private async queryOnce(
    q: Query,
    identifier: Dataset,
    onMatch: ((ds: Dataset) => boolean) | undefined,
    mayRetry: boolean,
  ): Promise<{ pending: number; final?: Response }> {
    const log = this.log;
    const started = Date.now();
    let pending = 0;
    let final: Response | undefined;
    let messageId = 0;
    const onSent = (id: number, pc: AcceptedContext) => {
      messageId = id;
      if (!log.enabled("info")) return;
      log.info(`Sending Find Request (MsgID ${id})`);
      log.dcmtkLines("I", [
        "Request Identifiers:",
        "",
        "# Dicom-Data-Set",
        `# Used TransferSyntax: ${syntaxName(pc.transferSyntax)}`,
        ...dumpLines(identifier, true, 0, [], { showPadding: false }),
        "",
      ]);
    };
    this.fixColumns(identifier);
    for await (const r of find(this.assoc, this.sopClass, identifier, {
      dimseTimeoutMs: this.s.timeouts.dimse,
      onSent,
    })) {
      this.counter++;
      if (!r.pending) {
        final = r;
        break;
      }
      pending++;
      const info = syntaxInfo(r.context.transferSyntax);
      const ds = r.identifierBytes ? parseDataset(r.identifierBytes, info) : new Dataset();
      if (this.s.showDump && log.enabled("warn")) {
        log.dcmtkLines(
          "I",
          responseBlock(this.counter, "Pending", ds, r.context.transferSyntax, info.little),
        );
      }
      if (onMatch && !onMatch(ds)) continue;
      this.matches++;
      if (
        this.s.extract &&
        (this.s.extract.limit === undefined || this.extracted < this.s.extract.limit)
      ) {
        this.extracted++;
        await this.writeExtract(ds, info.little);
      }
      if (this.s.output) {
        if (this.s.format === "ndjson" && !this.s.jsonModel) {
          await this.writer.writeJson(
            datasetToFlatJson(
              ds,
              { little: info.little, bulk: this.s.bulk },
              this.s.batch ? `"query":${JSON.stringify(q.id ?? null)}` : "",
            ),
          );
        } else await this.writer.write(this.record(q, ds, info.little));
      }
      if (!this.alive()) break;
      if (this.s.cancelAfter !== undefined && pending >= this.s.cancelAfter) {
        log.info(`Sending Cancel Request (MsgID ${messageId}, PresID ${r.context.id})`);
        break;
      }
    }
    if (final) {
      const text = statusText(final.status, "find");
      log.info(`Received Final Find Response (${text})`);
      const cls = statusClass(final.status);
      if (
        cls === "Failure" &&
        mayRetry &&
        pending === 0 &&
        isTransientStatus(final.status) &&
        !this.io.signal?.aborted
      ) {
        log.info(`Find Failed (${text}, ${statusHex(final.status)})`);
      } else if (cls === "Failure") {
        this.failedQueries++;
        const comment = final.command.errorComment ? `: ${final.command.errorComment}` : "";
        this.lastError = `${text} (${statusHex(final.status)})${comment}`;
        log.error(
          `Find Failed (${text}, ${statusHex(final.status)}${comment})${this.s.batch ? ` for query ${q.id ?? q.where}` : ""}`,
        );
      } else if (cls === "Warning") {
        log.warn(`Find finished with warning status ${statusHex(final.status)} (${text})`);
      }
    }
    log.debug(`${pending} matches in ${((Date.now() - started) / 1000).toFixed(2)} s`);
    return { pending, final };
  }

  private fixColumns(identifier: Dataset): void {
    if (this.columnsFixed || this.s.format === "ndjson") return;
    this.columnsFixed = true;
    const keys = Object.keys(datasetToFlat(identifier)).filter(
      (k) => k !== "SpecificCharacterSet" && k !== "QueryRetrieveLevel",
    );
    // A table's rows without a match or that failed are records too, with a status.
    const columns = this.s.batch
      ? ["query", ...keys, ...(this.s.table !== undefined ? ["status"] : [])]
      : keys;
    this.writer.setColumns(columns);
  }

  record(q: Query, ds: Dataset, little: boolean): FlatRecord {
    const body = this.s.jsonModel
      ? datasetToPs318(ds, { little, bulk: this.s.bulk })
      : datasetToFlat(ds, { little, bulk: this.s.bulk });
    // Text is decoded to UTF-8; in a table the source character set is noise,
    // and so is QueryRetrieveLevel: a query parameter (given with -k in
    // DCMTK's grammar, so -k cannot tell a wanted column), echoed unchanged
    // in every response; a batch's "query" column names the query.
    if (this.s.format !== "ndjson") {
      delete body.SpecificCharacterSet;
      delete body.QueryRetrieveLevel;
    }
    if (!this.s.batch) return body;
    return { query: q.id ?? null, ...body };
  }

  private async writeExtract(ds: Dataset, little: boolean): Promise<void> {
    const dir = this.s.extract!.dir;
    const name = `rsp${String(this.counter).padStart(4, "0")}.dcm`;
    const bytes = encodePart10(ds, {
      sopClassUID: SopClass.DcmtkFindResponse,
      sopInstanceUID: newUid(),
      transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
      sourceLittle: little,
    });
    const path = join(dir, name);
    const tmp = `${path}.part`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }
}
