/** findscu-ts: DICOM query (C-FIND) SCU, DCMTK findscu compatible, with NDJSON/CSV/TSV output. */
import { findSopClass, Tags } from "@dicom-pipes/dimse/dicom";
import { NetError, statusClass, type Association } from "@dicom-pipes/dimse/net";
import { datasetToFlat, serializeRecord, type FlatRecord } from "@dicom-pipes/dimse/records";
import {
  isDevNull,
  isProcessIo,
  processIo,
  readAhead,
  RecordWriter,
  signalExitCode,
  type Io,
} from "@dicom-pipes/dimse/io";
import {
  checkFiles,
  choiceOption,
  Exit,
  outputDirectory,
  packageVersion,
  parseKeys,
  runTool,
  shardSetting,
  tuneJit,
  startDcmtkTool,
  tableSetting,
  unmatchedSetting,
  stdinHasData,
  UsageError,
  type HelpText,
} from "@dicom-pipes/dimse/cli";
import {
  Journal,
  outputSettings,
  pacingSettings,
  proposedSyntaxes,
  runBatch,
  Scheduler,
  scuSettings,
  Sessions,
  typedOptions,
} from "@dicom-pipes/dimse/app";
import { OPTIONS, type FindOptions } from "./options.js";
import { querySource, type Query } from "./queries.js";
import { Finder, type FindSettings } from "./find.js";
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
      `${TOOL} -S -aec PACS pacs 104 --queries accessions.csv -j 2 --throttle 1 --window 19:00-07:00 --journal q.journal -sr >> studies.ndjson`,
    ],
    epilogue:
      "Exit status differs from DCMTK findscu where findscu reports success for a failure:\n" +
      "a failed query, a bad -k key and a DIMSE timeout exit non-zero.",
    exits: [0, 1, 2, 3, 45, 61],
  };
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help(), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    tuneJit();
    const o = typedOptions<FindOptions>(p);
    const scu = scuSettings(o, p.positionals, io, { aet: "FINDSCU" });
    const keys = parseKeys(o.key);
    let table = o.queries;
    const files = scu.rest.filter((f) => f !== "-");
    if (scu.rest.includes("-")) {
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
    const out = outputSettings(o, io, log);
    const bulk = choiceOption(o.bulk, "--bulk", ["omit", "inline"], "omit");
    if (o.jsonModel && out.format !== "ndjson")
      throw new UsageError("--json-model needs --format ndjson");
    const level =
      o.level === undefined
        ? undefined
        : choiceOption(o.level, "--level", ["PATIENT", "STUDY", "SERIES", "IMAGE"], "STUDY");
    const mentionsLevel = keys.some(
      (k) => k.path.length === 1 && k.path[0]!.tag === Tags.QueryRetrieveLevel,
    );
    const model = o.model ?? (mentionsLevel || table !== undefined || level ? "study" : "worklist");
    if (o.maxResults !== undefined && !o.splitDates)
      throw new UsageError("--max-results needs --split-dates");
    const extract = o.extract
      ? { dir: outputDirectory(o.outputDirectory, io), limit: o.limitOutput }
      : undefined;
    const s: FindSettings = {
      ...scu,
      ...out,
      model,
      jsonModel: Boolean(o.jsonModel),
      bulk,
      // The response dump is most of what a query costs beside the network: not made for /dev/null.
      showDump: (o.showResponses ?? !extract) && !(isProcessIo(io) && isDevNull(2)),
      extract,
      repeat: o.repeat ?? 1,
      cancelAfter: o.cancel,
      abort: Boolean(o.abortAssoc),
      split: o.splitDates ? { maxResults: o.maxResults } : undefined,
      batch: table !== undefined || files.length > 0,
      table: table !== undefined,
      keepGoing: Boolean(o.keepGoing),
    };
    const writer = new RecordWriter(io.stdout, {
      format: s.format,
      excel: s.excel,
      onDroppedKey: (k) =>
        log.warn(
          `${k} is not a column of the ${s.format.toUpperCase()} output (columns come from the first query and response); dropped`,
        ),
    });
    let invalidRows = 0;
    const unmatched = await unmatchedSetting(o.unmatched, table !== undefined);
    const outcomes = new RowOutcomes(s.output ? writer : undefined, unmatched);
    // The first query is read before associating.
    const queries = await readAhead(
      querySource({
        keys,
        files,
        table,
        stdin: () => io.stdin,
        defaultLevel: model === "worklist" ? level : (level ?? "STUDY"),
        keepGoing: s.keepGoing,
        shard: shardSetting(o.shard, table !== undefined),
        model,
        onDropped: (where, keywords) =>
          log.info(`${where}: not keys at this query's level, not sent: ${keywords.join(", ")}`),
        onInvalid: (err) => {
          invalidRows++;
          log.error(`${err.message} (skipped)`);
        },
        tableOptions: tableSetting(o, table !== undefined, log),
        onColumns: (columns) => unmatched?.setColumns(columns),
      }),
    );
    const pacing = pacingSettings(o);
    const journal = pacing.journal ? new Journal(pacing.journal) : undefined;
    const resumed = journal?.load() ?? 0;
    if (resumed) log.info(`journal ${pacing.journal}: ${resumed} queries already complete`);
    const finder = new Finder(s, io, log, writer, findSopClass(model));
    const sessions = new Sessions(
      s,
      [{ abstractSyntax: finder.sopClass, transferSyntaxes: proposedSyntaxes(o.proposal) }],
      log,
      io.signal,
    );
    let failed = false;
    let complete = false;
    try {
      await runBatch({
        source: queries,
        jobs: pacing.jobs,
        signal: io.signal,
        halted: () => failed || sessions.failure !== undefined || !finder.alive(),
        scheduler: new Scheduler({ ...pacing, signal: io.signal, log: (m) => log.info(m) }),
        journal,
        // A query is the same query only against the same archive (as movescu-ts's journal).
        journalKey: (q) =>
          `find ${s.call}@${s.peer}:${s.port} ${s.model} ${serializeRecord({ query: q.id ?? null, ...datasetToFlat(q.dataset) })}`,
        skip: async (q) => log.info(`${q.where}: already queried (journal)`),
        beforeJournal: () => writer.flush(),
        work: async (q) => {
          const assoc = await sessions.acquire();
          try {
            return await queryAll(finder, assoc, q, outcomes);
          } catch (e) {
            if (!(e instanceof NetError)) throw e;
            log.error(`Find SCU Failed: ${e.condition}`);
            assoc.abort();
            failed = true;
          } finally {
            sessions.release(assoc);
          }
        },
      });
      complete = !failed && !sessions.failure && finder.alive();
    } catch (e) {
      if (!(e instanceof NetError)) throw e;
    } finally {
      journal?.close();
      await sessions.close(s.abort);
      await outcomes.finish(complete);
      await writer.end();
    }
    if (sessions.failure) throw sessions.failure;
    const sig = signalExitCode(io.signal);
    if (sig !== undefined) return sig;
    if (failed) return Exit.FAILURE;
    return finder.exitStatus(invalidRows);
  });
}

/**
 * A query (each --repeat, split with --split-dates); a table row without a
 * match or that failed is reported; its journal record when it completed.
 */
async function queryAll(
  finder: Finder,
  assoc: Association,
  q: Query,
  outcomes: RowOutcomes,
): Promise<FlatRecord | undefined> {
  const s = finder.s;
  let ok = true;
  let matches = 0;
  let failure: string | undefined;
  for (let r = 0; r < s.repeat && finder.alive(); r++) {
    if (s.split) {
      const splitter = new DateSplitter(finder, assoc, s.split.maxResults);
      await splitter.run(q);
      matches += splitter.matches;
      ok &&= !splitter.failed;
      failure ??= splitter.failure;
    } else {
      const { pending, final, failure: f } = await finder.query(assoc, q, q.dataset);
      matches += pending;
      ok &&= final === undefined || statusClass(final.status) !== "Failure";
      failure ??= f;
    }
  }
  if (!finder.alive()) return;
  await outcomes.after(q, matches, ok ? undefined : (failure ?? "failed"));
  if (!ok) return;
  return { query: q.id ?? null, status: "Success" };
}
