/** The archive index commands: index, query. */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import {
  openOutputFile,
  RecordWriter,
  signalExitCode,
  type Io,
  type OutputFile,
} from "@dicom-pipes/dimse/io";
import { recordKeyOrder } from "@dicom-pipes/dimse/records";
import {
  Exit,
  ExitError,
  packageVersion,
  recordFormat,
  Progress,
  progressWanted,
  UsageError,
  type CliLogger,
} from "@dicom-pipes/dimse/cli";
import { parseYargs, recordFormatYargs, toolYargs, yargsLogLevel } from "@dicom-pipes/dimse/yargs";
import { indexArchive, IndexUsageError, openIndex } from "./archive.js";
import { DEFAULT_TARGETS, QueryError, queryColumns, runQuery, type QueryLevel } from "./query.js";
import { commandTitle, EXITS, STREAMS } from "./main.js";

const TOOL = "dcmdir";

export async function indexCommand(argv: string[], io: Io, log: CliLogger): Promise<number> {
  const y = toolYargs(`${TOOL} index`, packageVersion(import.meta.url), {
    title: commandTitle("index"),
    streams: STREAMS,
    exits: EXITS,
  })
    .usage(
      `${TOOL} index --db FILE INPUT... [options]\n\n` +
        "Read the header (up to the pixel data) of every file under each INPUT and record it in\n" +
        "the SQLite database FILE (tables instances, series, skipped; view studies). Running again\n" +
        "reads only new or changed files (path, size and modification time) and drops files that\n" +
        "are gone; an interrupted run resumes where it stopped. Non-DICOM files are counted and\n" +
        "skipped. Prints one summary record on stdout.",
    )
    .options({
      db: {
        type: "string",
        demandOption: "give the database with --db FILE",
        describe: "the SQLite index (created if needed)",
        group: "Index:",
      },
      append: {
        type: "boolean",
        describe: "add INPUT to an index that already holds other folders",
        group: "Index:",
      },
      jobs: {
        alias: "j",
        type: "number",
        group: "Processing:",
        default: Math.max(1, Math.min(4, availableParallelism() - 1)),
        describe:
          "reader threads besides the main one, which walks and writes (0: read in the main thread; default: CPUs - 1, at most 4)",
      },
      batch: {
        type: "number",
        default: 2000,
        describe: "files per transaction (at most one batch is read again after a crash)",
        group: "Processing:",
      },
      progress: {
        type: "boolean",
        default: true,
        describe: "progress line on a terminal (--no-progress to hide)",
        group: "Processing:",
      },
    })
    .example(
      `${TOOL} index --db archive.db /data/archive`,
      "index (or update the index of) an archive",
    )
    .example(`${TOOL} index --db archive.db --append /data/more`, "add a second folder");
  const { args, done } = await parseYargs(y, argv, io);
  if (done) return Exit.OK;
  log.level = yargsLogLevel(args);
  if (Array.isArray(args.db)) throw new UsageError("--db given more than once");
  const inputs = args._.map(String);
  if (!inputs.length) throw new UsageError("give at least one folder or file to index");
  for (const i of inputs) if (!existsSync(i)) throw new UsageError(`${i}: no such file or folder`);
  const jobs = Number(args.jobs);
  if (!Number.isInteger(jobs) || jobs < 0)
    throw new UsageError(`--jobs: expected 0 or a positive integer, got ${String(args.jobs)}`);
  const batch = Number(args.batch);
  if (!Number.isInteger(batch) || batch < 1)
    throw new UsageError(`--batch: expected a positive integer, got ${String(args.batch)}`);
  const progress = new Progress({
    stream: io.stderr,
    enabled: progressWanted(
      io.stderr,
      io.env ?? {},
      log.level === "error" || log.level === "fatal",
      !args.progress,
    ),
  });
  const t0 = Date.now();
  const s = await indexArchive({
    db: args.db,
    inputs,
    append: Boolean(args.append),
    jobs,
    batch,
    log,
    signal: io.signal,
    onProgress: (p) =>
      progress.update(
        `${p.files} files, ${p.added} read, ${p.unchanged} unchanged, ${p.skipped} skipped`,
      ),
  }).catch((e: Error) => {
    throw new ExitError(e instanceof IndexUsageError ? Exit.USAGE : Exit.FAILURE, e.message);
  });
  progress.clear();
  const writer = new RecordWriter(io.stdout);
  await writer.write({
    path: args.db,
    files: s.files,
    added: s.added,
    unchanged: s.unchanged,
    skipped: s.skipped,
    failed: s.failed,
    removed: s.removed,
    elapsed: (Date.now() - t0) / 1000,
  });
  await writer.end();
  const stopped = signalExitCode(io.signal);
  if (stopped) {
    log.warn(`interrupted after ${s.files} files; run again to resume`);
    return stopped;
  }
  log.info(
    `${s.files} files: ${s.added} read, ${s.unchanged} unchanged, ${s.skipped} not DICOM, ${s.failed} failed, ${s.removed} removed`,
  );
  return s.failed ? Exit.PARTIAL : Exit.OK;
}

const DATE = /^\d{8}$/;

function checkDate(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new UsageError(`--${name} given more than once`);
  const s = String(v);
  const d = new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T00:00:00Z`);
  if (
    !DATE.test(s) ||
    Number.isNaN(d.getTime()) ||
    d.toISOString().slice(0, 10).replace(/-/g, "") !== s
  )
    throw new UsageError(`--${name}: expected a date YYYYMMDD, got ${JSON.stringify(s)}`);
  return s;
}

export async function queryCommand(argv: string[], io: Io, log: CliLogger): Promise<number> {
  const y = toolYargs(`${TOOL} query`, packageVersion(import.meta.url), {
    title: commandTitle("query"),
    streams: STREAMS,
    exits: EXITS,
  })
    .usage(
      `${TOOL} query --db FILE [options]\n\n` +
        "Find series in an index by StudyDate and a regular expression over some attributes (a match\n" +
        "in any target counts; an empty or missing value never matches). One record per series by\n" +
        "default; --level study or instance, or --files for one record per file with its path\n" +
        "(ready for storescu-ts).",
    )
    .options({
      db: {
        type: "string",
        demandOption: "give the database with --db FILE",
        describe: "the SQLite index written by dcmdir index",
        group: "Selection:",
      },
      date: { type: "string", describe: "StudyDate equal to YYYYMMDD", group: "Selection:" },
      sdate: { type: "string", describe: "StudyDate on or after YYYYMMDD", group: "Selection:" },
      edate: { type: "string", describe: "StudyDate on or before YYYYMMDD", group: "Selection:" },
      targets: {
        type: "string",
        describe: `attributes the pattern is matched against, comma-separated (default: ${DEFAULT_TARGETS.join(",")})`,
        group: "Selection:",
      },
      pattern: {
        type: "string",
        describe: "regular expression (JavaScript syntax; unanchored, case-sensitive)",
        group: "Selection:",
      },
      "ignore-case": {
        alias: "i",
        type: "boolean",
        describe: "match the pattern without regard to case",
        group: "Selection:",
      },
      level: {
        choices: ["series", "study", "instance"] as const,
        default: "series" as "series" | "study" | "instance",
        describe: "one record per series, study or instance",
        group: "Output:",
      },
      files: {
        type: "boolean",
        describe: "one record per file: path and UIDs (for storescu-ts)",
        group: "Output:",
      },
      ...recordFormatYargs("ndjson"),
      output: {
        alias: "o",
        type: "string",
        describe: "write to FILE (complete or not at all) instead of stdout",
        group: "Output:",
      },
    })
    .example(
      `${TOOL} query --db archive.db --sdate 20240101 --edate 20241231 --targets SeriesDescription --pattern FLAIR`,
      "last year's FLAIR series",
    )
    .example(
      `${TOOL} query --db archive.db --date 20240131 --files | storescu-ts -aec PACS pacs 104`,
      "send one day's files",
    );
  const { args, done } = await parseYargs(y, argv, io);
  if (done) return Exit.OK;
  log.level = yargsLogLevel(args);
  if (args._.length) throw new UsageError(`unexpected argument ${String(args._[0])}`);
  for (const k of ["db", "targets", "pattern", "output"] as const)
    if (Array.isArray(args[k])) throw new UsageError(`--${k} given more than once`);
  const date = checkDate("date", args.date);
  const sdate = checkDate("sdate", args.sdate);
  const edate = checkDate("edate", args.edate);
  if (date && (sdate || edate))
    throw new UsageError("--date cannot be combined with --sdate/--edate");
  if (args.targets !== undefined && args.pattern === undefined)
    throw new UsageError("--targets needs --pattern");
  let pattern: RegExp | undefined;
  if (args.pattern !== undefined) {
    try {
      pattern = new RegExp(args.pattern, args["ignore-case"] ? "i" : "");
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`);
    }
  }
  const targets = args.targets
    ?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const level: QueryLevel = args.files ? "files" : args.level;
  if (args.files && argv.some((a) => a === "--level" || a.startsWith("--level=")))
    throw new UsageError("--files and --level cannot be combined");
  if (!existsSync(args.db))
    throw new UsageError(`${args.db}: no such index (create it with dcmdir index)`);
  const db = (() => {
    try {
      return openIndex(args.db, { readonly: true });
    } catch (e) {
      throw new ExitError(Exit.FAILURE, (e as Error).message);
    }
  })();
  let file: OutputFile | undefined;
  try {
    const q = { date, sdate, edate, targets, pattern, level };
    let columns: string[];
    try {
      columns = queryColumns(db, q);
    } catch (e) {
      if (e instanceof QueryError) throw new UsageError(e.message);
      throw e;
    }
    file = args.output ? await openOutputFile(args.output) : undefined;
    const writer = new RecordWriter(
      file ? file.stream : io.stdout,
      recordFormat(args.format, args.excel),
    );
    for (const rec of runQuery(db, q)) {
      if (!writer.ok) break;
      await writer.write(rec);
    }
    if (writer.count === 0)
      await writer.writeHeader(recordKeyOrder(Object.fromEntries(columns.map((c) => [c, null]))));
    await writer.end();
    await file?.commit();
    file = undefined;
    log.info(
      `${writer.count} ${level === "files" ? "files" : level === "study" ? "studies" : level} found`,
    );
    return Exit.OK;
  } finally {
    await file?.abort();
    db.close();
  }
}
