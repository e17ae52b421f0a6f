/** The file-set commands: create, add, list. */
import { resolve, relative, sep } from "node:path";
import { RecordWriter, signalExitCode, type Io } from "@dicom-pipes/dimse/io";
import {
  Exit,
  ExitError,
  packageVersion,
  recordFormat,
  UsageError,
  type CliLogger,
} from "@dicom-pipes/dimse/cli";
import { parseYargs, recordFormatYargs, toolYargs, yargsLogLevel } from "@dicom-pipes/dimse/yargs";
import { createFileSet, type CreateSummary } from "./create.js";
import { readDicomdir } from "./dicomdir.js";
import { listDicomdir, type ListLevel } from "./list.js";
import { commandTitle, EXITS, STREAMS } from "./main.js";

const TOOL = "dcmdir";

function logCreate(log: CliLogger, s: CreateSummary): void {
  for (const [k, n] of s.invented)
    log.warn(`${n} records had no ${k}; a value was filled in so the DICOMDIR stays valid`);
  if (s.notGeneralPurpose)
    log.warn(
      `${s.notGeneralPurpose} files are not Explicit VR Little Endian: the file-set does not conform to the General Purpose CD-R profile (STD-GEN-CD)`,
    );
  log.info(
    `${s.files} files: ${s.placed} in the file-set, ${s.skipped} skipped, ${s.failed} failed`,
  );
}

export async function createCommand(
  argv: string[],
  io: Io,
  log: CliLogger,
  add: boolean,
): Promise<number> {
  const cmd = add ? "add" : "create";
  const y = toolYargs(`${TOOL} ${cmd}`, packageVersion(import.meta.url), {
    title: commandTitle(cmd),
    streams: STREAMS,
    exits: EXITS,
  })
    .usage(
      add
        ? `${TOOL} add DICOMDIR INPUT... [options]\n\nCopy the DICOM files under each INPUT (files or folders, recursively) into the file-set\nof DICOMDIR and add their records. One NDJSON record per file on stdout.`
        : `${TOOL} create -o OUT INPUT... [options]\n${TOOL} create OUT [options]\n\n` +
            "Copy the DICOM files under each INPUT (files or folders, recursively) into OUT, named\n" +
            "OUT/Pxxxxxxx/Sxxxxxxx/Exxxxxxx/Ixxxxxxx (patient/study/series/instance, PS3.10 file IDs),\n" +
            "and write OUT/DICOMDIR (General Purpose profile). Files are copied byte for byte and\n" +
            "never overwritten; non-DICOM files are skipped and reported. With OUT alone, the files\n" +
            "already in OUT are referenced where they are. One NDJSON record per file on stdout.",
    )
    .options({
      ...(add
        ? {}
        : {
            out: {
              alias: "o",
              type: "string" as const,
              describe: "the file-set folder (created if needed)",
              group: "Output:",
            },
          }),
      "fileset-id": {
        type: "string",
        describe: "File-set ID (up to 16 characters A-Z 0-9 _ and space)",
        group: "Output:",
      },
      ...(add
        ? {}
        : {
            force: {
              type: "boolean" as const,
              describe: "rewrite an existing OUT/DICOMDIR",
              group: "Output:",
            },
          }),
    })
    .example(`${TOOL} create -o CD retrieved/`, "a disc folder from a retrieved tree")
    .example(`${TOOL} list CD/DICOMDIR | storescu-ts -aec PACS pacs 104`, "send the disc");
  const { args, done } = await parseYargs(y, argv, io);
  if (done) return Exit.OK;
  log.level = yargsLogLevel(args);
  const positional = args._.map(String);
  let out: string;
  let inputs: string[];
  if (add) {
    if (positional.length < 2) throw new UsageError("give the DICOMDIR and at least one INPUT");
    const dd = positional[0]!;
    if (!/(^|[/\\])DICOMDIR$/.test(dd))
      throw new UsageError(`${dd}: expected the path of a DICOMDIR file`);
    out = resolve(dd, "..");
    inputs = positional.slice(1);
  } else {
    const o = (args as { out?: string | string[] }).out;
    if (Array.isArray(o)) throw new UsageError("-o given more than once");
    if (o !== undefined) {
      out = o;
      inputs = positional.length ? positional : [o];
    } else if (positional.length === 1) {
      out = positional[0]!;
      inputs = [out];
    } else
      throw new UsageError(
        "give the output folder with -o OUT and the inputs, or OUT alone for a folder already laid out",
      );
  }
  const fileSetId = args["fileset-id"] as string | undefined;
  if (fileSetId !== undefined && !/^[A-Z0-9_ ]{0,16}$/.test(fileSetId))
    throw new UsageError(
      `--fileset-id: expected up to 16 characters A-Z, 0-9, _ and space, got ${JSON.stringify(fileSetId)}`,
    );
  const absOut = resolve(out);
  for (const i of inputs) {
    const rel = relative(resolve(i), absOut);
    if (resolve(i) !== absOut && (rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep))))
      throw new UsageError(`the output folder ${out} is inside the input ${i}`);
  }
  const writer = new RecordWriter(io.stdout);
  const summary = await createFileSet({
    out,
    inputs,
    append: add,
    force: Boolean((args as { force?: boolean }).force),
    fileSetId,
    log,
    signal: io.signal,
    report: (r) => writer.write({ ...r }),
  }).catch((e: Error) => {
    throw new ExitError(Exit.FAILURE, e.message);
  });
  await writer.end();
  const stopped = signalExitCode(io.signal);
  if (stopped) {
    log.warn("interrupted: the DICOMDIR was not written; run again to finish");
    return stopped;
  }
  logCreate(log, summary);
  if (summary.placed === 0 && summary.failed === 0) log.warn("no DICOM files found");
  return summary.failed ? Exit.PARTIAL : Exit.OK;
}

export async function listCommand(argv: string[], io: Io, log: CliLogger): Promise<number> {
  const y = toolYargs(`${TOOL} list`, packageVersion(import.meta.url), {
    title: commandTitle("list"),
    streams: STREAMS,
    exits: EXITS,
  })
    .usage(
      `${TOOL} list DICOMDIR [options]\n\nOne record per instance the DICOMDIR references: "path" (beside the DICOMDIR), the record\ntype and the patient, study, series and instance keys. With --level, one record per patient,\nstudy or series with the number of instances below it ("count").`,
    )
    .options({
      level: {
        choices: ["patient", "study", "series", "instance"] as const,
        default: "instance" as ListLevel,
        describe: "record level",
        group: "Output:",
      },
      ...recordFormatYargs("ndjson"),
    })
    .example(`${TOOL} list /media/cdrom/DICOMDIR | storescu-ts -aec PACS pacs 104`, "send a disc")
    .example(`${TOOL} list --level study CD/DICOMDIR`, "the studies on a disc");
  const { args, done } = await parseYargs(y, argv, io);
  if (done) return Exit.OK;
  log.level = yargsLogLevel(args);
  if (args._.length !== 1) throw new UsageError("give one DICOMDIR");
  const path = String(args._[0]);
  const dir = await readDicomdir(path).catch((e: Error) => {
    throw new ExitError(
      (e as NodeJS.ErrnoException).code === "ENOENT" ? Exit.USAGE : Exit.FAILURE,
      e.message,
    );
  });
  const writer = new RecordWriter(io.stdout, recordFormat(args.format, args.excel));
  let bad = 0;
  for (const item of listDicomdir(dir, path, args.level)) {
    if (!writer.ok) break;
    if (item.error) {
      bad++;
      log.error(`${path}: ${item.error}`);
    }
    await writer.write(item.record);
  }
  await writer.end();
  log.info(`${writer.count} records`);
  return bad ? Exit.PARTIAL : Exit.OK;
}
