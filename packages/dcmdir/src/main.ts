/** dcmdir: DICOMDIR media folders (create, add, list) and a searchable SQLite index of DICOM files (index, query). */
import { processIo, type Io } from "@dicom-pipes/dimse/io";
import {
  Exit,
  generalOptions,
  packageVersion,
  printHelp,
  runTool,
  UsageError,
  versionLine,
  type HelpText,
} from "@dicom-pipes/dimse/cli";

export { processIo };

const TOOL = "dcmdir";

/** The exit statuses dcmdir returns (its --help and each command's). */
export const EXITS = [Exit.OK, Exit.FAILURE, Exit.USAGE, Exit.PARTIAL];
/** What the commands read and write, for their --help. */
export const STREAMS =
  "Writes one NDJSON record per item on stdout (CSV/TSV where asked); logs on stderr.";

/** The commands, their synopses and what each does (the help, the man page, completion). */
export const COMMANDS: Array<[name: string, synopsis: string, title: string]> = [
  [
    "create",
    "create -o OUT INPUT...",
    "copy the DICOM files under INPUT into OUT with PS3.10 file IDs and write OUT/DICOMDIR",
  ],
  ["create", "create OUT", "write OUT/DICOMDIR for files already named as file IDs"],
  ["add", "add DICOMDIR INPUT...", "copy more files into a file-set and extend its DICOMDIR"],
  ["list", "list DICOMDIR", "one NDJSON record per referenced instance (path + keys)"],
  ["index", "index --db FILE INPUT...", "index DICOM headers under INPUT into an SQLite database"],
  ["query", "query --db FILE", "find series (or studies, instances, files) in an index"],
];

/** What a command does, for its --help's first line (create: its first form). */
export function commandTitle(name: string): string {
  return COMMANDS.find(([n]) => n === name)?.[2] ?? name;
}

/** The options dcmdir takes before a command. */
const OPTIONS = generalOptions().filter((o) => o.key === "help" || o.key === "version");

const HELP: HelpText = {
  tool: TOOL,
  title: "DICOMDIR media folders and a searchable SQLite index of DICOM files",
  usage: `${TOOL} <command> [options]\n${TOOL} --help | --version`,
  commands: COMMANDS.map(([, synopsis, title]) => [`${TOOL} ${synopsis}`, title]),
  description: `Run '${TOOL} <command> --help' for a command's options.`,
  exits: EXITS,
};

export async function main(argv: string[], io: Io): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const [cmd, ...rest] = argv;
    switch (cmd) {
      case "create":
        return (await import("./fileset-commands.js")).createCommand(rest, io, log, false);
      case "add":
        return (await import("./fileset-commands.js")).createCommand(rest, io, log, true);
      case "list":
        return (await import("./fileset-commands.js")).listCommand(rest, io, log);
      case "index":
        // Each command loads only its own modules (the index commands load SQLite).
        return (await import("./index-commands.js")).indexCommand(rest, io, log);
      case "query":
        return (await import("./index-commands.js")).queryCommand(rest, io, log);
      case "--help":
      case "-h":
      case "help":
        printHelp(io, HELP, OPTIONS);
        return Exit.OK;
      case "--version":
        io.stdout.write(`${versionLine(TOOL, packageVersion(import.meta.url))}\n`);
        return Exit.OK;
      case undefined:
        throw new UsageError("give a command: create, add, list, index or query");
      default:
        throw new UsageError(
          `unknown command ${JSON.stringify(cmd)} (create, add, list, index, query)`,
        );
    }
  });
}
