/** dumps-move: move per-series info dumps out of a DICOM data tree, preserving relative paths. */
import { stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { processIo, RecordWriter, signalExitCode, type Io } from "@dicom-pipes/dimse/io";
import {
  Exit,
  ExitError,
  checkOutputFolder,
  formatBytes,
  packageVersion,
  Progress,
  progressWanted,
  runTool,
  UsageError,
} from "@dicom-pipes/dimse/cli";
import { parseYargs, toolYargs, yargsLogLevel } from "@dicom-pipes/dimse/yargs";
import { compileGlob, matchFiles } from "./glob.js";
import { moveFile } from "./move.js";

export { processIo };

/** The exit statuses this tool can return (for --help). */
export const EXITS = [0, 1, 2, 3, 45];
const TOOL = "dumps-move";
/** PACSIFIER's layout: the --info CSV beside each series folder, and the pseudonym mapper at the top. */
export const DEFAULT_PATTERNS = ["sub-*/ses-*/*.csv", "mapper.json"];

function parser(version: string) {
  return (
    toolYargs(TOOL, version, {
      title: "move the per-series info dumps out of a data tree",
      streams:
        "Reads the files under --data-folder (not stdin); writes one NDJSON record per file on stdout; logs on stderr.",
      exits: EXITS,
    })
      .usage(
        `${TOOL} --data-folder DATA --info-folder INFO [options]\n\n` +
          "Move the per-series info dumps (the CSV files movescu-ts --info and PACSIFIER --info\n" +
          "write beside each series folder) and PACSIFIER's mapper.json out of DATA into INFO,\n" +
          "keeping their relative paths, so that DATA can be de-identified or shared without\n" +
          "them. INFO is created; existing files are never overwritten without --force; moves\n" +
          "work across filesystems (copy, fsync, rename, unlink) and an interrupted run can\n" +
          "simply be run again. Writes one NDJSON record per file on stdout.",
      )
      .options({
        "data-folder": {
          alias: ["data_folder", "D"],
          type: "string",
          demandOption: "give the data tree with --data-folder DATA",
          describe: "the data tree (sub-*/ses-*/…)",
          group: "Folders:",
        },
        "info-folder": {
          alias: ["info_folder", "I"],
          type: "string",
          demandOption: "give the destination with --info-folder INFO",
          describe: "where the dumps go (created if needed)",
          group: "Folders:",
        },
        pattern: {
          type: "string",
          array: true,
          describe: `files to move, relative to DATA (repeatable; default: ${DEFAULT_PATTERNS.join(" and ")})`,
          group: "Selection:",
        },
        force: {
          type: "boolean",
          describe: "overwrite files that already exist in INFO with other content",
          group: "Moving:",
        },
        "dry-run": {
          alias: "n",
          type: "boolean",
          describe: "only print what would be moved",
          group: "Moving:",
        },
        progress: {
          type: "boolean",
          default: true,
          describe: "progress line on a terminal (--no-progress to hide)",
          group: "Moving:",
        },
      })
      // Repeated --pattern options accumulate (the shared default keeps the last of a repeated option).
      .parserConfiguration({ "strip-aliased": true, "duplicate-arguments-array": true })
      .example(`${TOOL} --data-folder data --info-folder info`, "PACSIFIER's layout")
      .example(
        `${TOOL} -D data -I info --pattern '**/*.csv' --dry-run`,
        "every CSV at any depth, without moving",
      )
      .example(
        `${TOOL} -D data -I info | jq -r 'select(.action != "moved")'`,
        "anything not simply moved",
      )
  );
}

function inside(child: string, parent: string): boolean {
  const r = relative(parent, child);
  return r === "" || (!r.startsWith("..") && !r.startsWith(sep));
}

export async function main(argv: string[], io: Io): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const { args, done } = await parseYargs(parser(packageVersion(import.meta.url)), argv, io);
    if (done) return 0;
    log.level = yargsLogLevel(args);
    if (args._.length) throw new UsageError(`unexpected argument ${String(args._[0])}`);
    for (const k of ["data-folder", "info-folder"] as const)
      if (Array.isArray(args[k])) throw new UsageError(`--${k} given more than once`);
    const data = args["data-folder"];
    const info = args["info-folder"];
    const st = await stat(data).catch(() => undefined);
    if (!st) throw new ExitError(Exit.USAGE, `data folder ${data} does not exist`);
    if (!st.isDirectory())
      throw new ExitError(Exit.USAGE, `data folder ${data} is not a directory`);
    if (inside(resolve(info), resolve(data)))
      throw new UsageError(
        `the info folder must not be inside the data folder (${info} is inside ${data})`,
      );
    const infoSt = await stat(info).catch(() => undefined);
    if (infoSt && !infoSt.isDirectory())
      throw new ExitError(Exit.OUTPUT_DIR, `info folder ${info} exists and is not a directory`);
    checkOutputFolder(info, "info folder");
    const patternTexts = args.pattern?.length ? args.pattern : DEFAULT_PATTERNS;
    const patterns = patternTexts.map((p) => {
      try {
        return compileGlob(p);
      } catch (e) {
        throw new UsageError(`--pattern: ${(e as Error).message}`);
      }
    });
    const files = await matchFiles(data, patterns);
    log.info(`${files.length} files match in ${data}`);
    const dry = Boolean(args["dry-run"]);
    const out = new RecordWriter(io.stdout);
    const progress = new Progress({
      stream: io.stderr,
      enabled: progressWanted(
        io.stderr,
        io.env ?? {},
        log.level === "error" || log.level === "fatal",
        !args.progress,
      ),
    });
    let moved = 0;
    let bytes = 0;
    let failed = 0;
    for (const [i, rel] of files.entries()) {
      if (io.signal?.aborted || !out.ok) break;
      const from = join(data, rel);
      const to = join(info, rel);
      progress.update(`${i + 1}/${files.length} ${rel}`);
      const size = (await stat(from)).size;
      if (dry) {
        await out.write({ action: "would-move", from, to, bytes: size });
        continue;
      }
      try {
        const action = await moveFile(from, to, Boolean(args.force));
        moved++;
        bytes += size;
        if (action === "completed")
          log.info(`${rel}: already copied by an earlier run; source removed`);
        await out.write({ action, from, to, bytes: size });
      } catch (e) {
        failed++;
        const msg = (e as Error).message;
        log.error(`${rel}: ${msg}`);
        await out.write({ action: "skipped", from, to, error: msg });
      }
    }
    progress.clear();
    await out.end();
    const stopped = signalExitCode(io.signal);
    if (stopped) {
      log.warn(`interrupted after ${moved} of ${files.length} files; run again to finish`);
      return stopped;
    }
    if (dry) log.info(`dry run: ${files.length} files would be moved`);
    else log.info(`${moved} files moved (${formatBytes(bytes)}), ${failed} skipped`);
    if (files.length === 0) log.warn(`no files match ${patternTexts.join(", ")} in ${data}`);
    return failed ? Exit.PARTIAL : Exit.OK;
  });
}
