/**
 * movescu-ts (and getscu-ts): DICOM retrieve (C-MOVE / C-GET) SCU,
 * DCMTK movescu/getscu compatible, with batch retrieval from records,
 * parallel associations, pacing, a resume journal and layouts.
 */
import { join, resolve } from "node:path";
import { getSopClass, moveSopClass } from "@dicom-pipes/dimse/dicom";
import { LayoutError, layoutFor, type Layout } from "@dicom-pipes/dimse/records";
import { processIo, type Io } from "@dicom-pipes/dimse/io";
import {
  checkFiles,
  choiceOption,
  outputDecompressMode,
  outputDirectory,
  packageVersion,
  parseKeys,
  runTool,
  shardSetting,
  startDcmtkTool,
  tableSetting,
  unmatchedSetting,
  stdinHasData,
  UsageError,
  type HelpText,
} from "@dicom-pipes/dimse/cli";
import {
  getStorageContexts,
  Journal,
  outputSettings,
  progressBar,
  resultWriter,
  pacingSettings,
  proposedSyntaxes,
  Scheduler,
  scuSettings,
  typedOptions,
} from "@dicom-pipes/dimse/app";
import { options, type MoveOptions } from "./options.js";
import {
  countRequests,
  LEVELS,
  requestSource,
  type Level,
  type RequestSourceOptions,
} from "./requests.js";
import { fileRecord, Receiving } from "./receive.js";
import { RetrieveRun, type RetrieveSettings } from "./retrieve.js";
import { findSession, Resolver } from "./resolve.js";

export { processIo };

type Tool = "movescu-ts" | "getscu-ts";

function help(tool: Tool): HelpText {
  const get = tool === "getscu-ts";
  return {
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
      `61 association failure, ${get ? "" : "60 port busy, "}45 output directory missing or not writable.`,
    exits: get ? [0, 1, 2, 45, 61, 68, 69] : [0, 1, 2, 45, 60, 61, 68, 69],
  };
}

export async function main(
  argv: string[],
  io: Io = processIo(),
  tool: Tool = "movescu-ts",
): Promise<number> {
  const OPTIONS = options(tool);
  return runTool(tool, io, async (log) => {
    const p = startDcmtkTool(tool, argv, OPTIONS, io, log, help(tool), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = typedOptions<MoveOptions>(p);
    const kind: "move" | "get" = tool === "getscu-ts" || o.get ? "get" : "move";
    const scu = scuSettings(o, p.positionals, io, {
      aet: kind === "get" ? "GETSCU" : "MOVESCU",
      listen: kind === "move",
    });
    // movescu reports a bad key as a usage error, in these words.
    const keys = parseKeys(
      o.key,
      (e) => `bad key format or dictionary name not found in dictionary: ${e.key}`,
    );
    const files = scu.rest.filter((f) => f !== "-");
    let input = o.input;
    if (scu.rest.includes("-")) input = "-";
    if (input !== undefined && files.length)
      throw new UsageError("query files and --input cannot be combined");
    checkFiles(files);
    if (input === undefined && keys.length === 0 && files.length === 0) {
      if (!io.stdin.isTTY) input = "-";
      else throw new UsageError("no retrieve keys (-k), query files or input records given");
    } else if (input === undefined && stdinHasData(io))
      log.warn("stdin is not read; add '-' to use it as queries");
    const batch = input !== undefined;
    const receivePort = kind === "move" ? o.port : undefined;
    const receiving = kind === "get" || receivePort !== undefined;
    // The output directory holds received files and, by default, the batch journal.
    const od =
      receiving || (batch && !o.noJournal && o.journal === undefined)
        ? outputDirectory(o.outputDirectory, io)
        : resolve(o.outputDirectory ?? io.cwd ?? ".");
    let layout: Layout;
    try {
      layout = layoutFor(o.layout ?? "dcmtk");
    } catch (e) {
      if (e instanceof LayoutError) throw new UsageError(e.message);
      throw e;
    }
    const level =
      o.level === undefined ? undefined : choiceOption<Level>(o.level, "--level", LEVELS, "STUDY");
    const out = outputSettings(o, io, log);
    const emit =
      o.emit === undefined ? undefined : choiceOption(o.emit, "--emit", ["files"], "files");
    if (emit && !receiving)
      throw new UsageError("--emit files needs objects to arrive here (+P or C-GET)");
    if (o.info && !receiving)
      throw new UsageError("--info needs objects to arrive here (+P or C-GET)");
    // DCMTK's default is Patient Root; records from findscu-ts -S usually lack PatientID.
    const model = o.model ?? (batch ? "study" : "patient");
    const sopClass = kind === "move" ? moveSopClass(model) : getSopClass(model);
    const shard = shardSetting(o.shard, batch);
    // Shards may share an output directory: each keeps its own journal there.
    const journalName = shard
      ? `.movescu-ts.shard-${shard.index}-of-${shard.count}.journal`
      : ".movescu-ts.journal";
    const pacing = pacingSettings(o, batch ? () => join(od, journalName) : undefined);
    const s: RetrieveSettings = {
      // --bind is where the +P listener binds here, not where associations come from.
      ...scu,
      bind: undefined,
      kind,
      destination: kind === "move" ? (o.move ?? "MOVESCU") : undefined,
      receivePort,
      listenBind: o.bind,
      sopClass,
      label: kind === "move" ? "Move" : "C-GET",
      proposals: [
        { abstractSyntax: sopClass, transferSyntaxes: proposedSyntaxes() },
        ...(kind === "get" ? getStorageContexts() : []),
      ],
      od,
      jobs: pacing.jobs,
    };
    const journal = pacing.journal ? new Journal(pacing.journal) : undefined;
    const resumed = journal?.load() ?? 0;
    if (resumed) log.info(`journal ${pacing.journal}: ${resumed} requests already complete`);
    const writer = resultWriter(out, io);
    const scheduler = new Scheduler({ ...pacing, signal: io.signal, log: (m) => log.info(m) });
    const progress = progressBar(out, io);
    const receive = receiving
      ? new Receiving({
          od,
          layout,
          info: Boolean(o.info),
          ignore: Boolean(o.ignore),
          fsync: Boolean(o.fsync),
          decompress: outputDecompressMode(o),
          tsPref: o.tsPref ?? "sender",
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
      stdin: () => io.stdin,
      model,
      defaultLevel: level,
      keepGoing: Boolean(o.keepGoing),
      shard,
      onInvalid: (err) => log.error(`${err.message} (skipped)`),
      resolve: choiceOption(o.resolve, "--resolve", ["auto", "never"] as const, "auto"),
      table: tableSetting(o, batch, log),
      onColumns: (columns) => unmatched?.setColumns(columns),
    };
    const unmatched = await unmatchedSetting(o.unmatched, batch);
    const resolver = new Resolver({
      requests,
      model,
      session: findSession(s, model, log, io.signal),
      writer,
      unmatched,
      log,
    });
    const source = resolver.requests(requestSource(requests));
    const run = new RetrieveRun(s, io, log, writer, journal, scheduler, progress, receive);
    // The total, for percent and ETA, comes from a second reading of a file input (not of stdin).
    if (progress.enabled) void countRequests(requests).then((n) => (run.total = n));
    let code: number | undefined;
    try {
      code = await run.run(source);
    } finally {
      code = await resolver.finish(code);
      journal?.close();
      progress.finish(log, run.counts());
      await writer?.end();
    }
    return code!;
  });
}
