/**
 * yargs for the tools with GNU-style options (inst-count, weekday-plot,
 * dumps-move): one configured instance per tool, shared option groups,
 * help and version on stdout, usage errors as `UsageError` (exit 2), and
 * output captured so in-process runs write to the injected streams.
 */
import yargs, { type Argv } from "yargs";
import type { Io } from "../io/io.js";
import { UsageError, exitTable } from "./exit.js";
import { EXCEL_DESCRIBE, logLevelOf } from "./common.js";
import type { LogLevel } from "../net/logger.js";

export const GENERAL_GROUP = "General:";

export interface ToolHelp {
  /** What the tool reads and writes, for the end of --help. */
  streams: string;
  /** The exit statuses the tool can return (130/143 are added). */
  exits: readonly number[];
}

/** What an analysis tool reads and writes, for `ToolHelp.streams`. */
export const ANALYSIS_STREAMS =
  "Reads NDJSON (or CSV/TSV, JSON arrays) on stdin or from files; writes data on stdout; logs on stderr.";

/** A yargs instance for a tool, with -q/-v/-d/--log-level; positionals are left to the tool. */
export function toolYargs(tool: string, version: string, help: ToolHelp): Argv {
  return yargs()
    .scriptName(tool)
    .version(version)
    .help("help")
    .alias("help", "h")
    .strictOptions()
    .exitProcess(false)
    .parserConfiguration({ "strip-aliased": true, "duplicate-arguments-array": false })
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .options({
      quiet: {
        alias: "q",
        type: "boolean",
        describe: "quiet mode, print no warnings and errors",
        group: GENERAL_GROUP,
      },
      verbose: {
        alias: "v",
        type: "boolean",
        describe: "verbose mode, print processing details",
        group: GENERAL_GROUP,
      },
      debug: {
        alias: "d",
        type: "boolean",
        describe: "debug mode, print debug information",
        group: GENERAL_GROUP,
      },
      "log-level": {
        choices: ["fatal", "error", "warn", "info", "debug", "trace"] as const,
        describe: "log level, also -ll (instead of -q/-v/-d)",
        group: GENERAL_GROUP,
      },
    })
    .group(["help", "version"], GENERAL_GROUP)
    .epilogue(`${help.streams}\n\n${exitTable(help.exits)}`);
}

/** What every parse result carries besides the tool's own options. */
export interface GeneralArgs {
  quiet?: boolean;
  verbose?: boolean;
  debug?: boolean;
  "log-level"?: string;
  /** `quiet`, `verbose` and `debug` in the order given (set by `parseYargs`: the rightmost wins). */
  levelFlags?: string[];
  /** Positional arguments. */
  _: Array<string | number>;
}

/** Level from the general options, as in the DCMTK-style tools (`logLevelOf`). */
export function yargsLogLevel(a: {
  quiet?: boolean;
  verbose?: boolean;
  debug?: boolean;
  "log-level"?: string;
  levelFlags?: string[];
}): LogLevel {
  return logLevelOf(
    { quiet: a.quiet, verbose: a.verbose, debug: a.debug, logLevel: a["log-level"] },
    a.levelFlags ?? (["quiet", "verbose", "debug"] as const).filter((k) => a[k]),
  );
}

const LEVEL_FLAGS: Record<string, string> = {
  q: "quiet",
  v: "verbose",
  d: "debug",
  "--quiet": "quiet",
  "--verbose": "verbose",
  "--debug": "debug",
};

/** `-q/-v/-d` (also grouped, as `-vq`) in command-line order, up to `--`. */
function levelFlagsOf(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a === "--") break;
    const long = LEVEL_FLAGS[a];
    if (long) out.push(long);
    else if (/^-[a-zA-Z]+$/.test(a))
      for (const c of a.slice(1)) if (LEVEL_FLAGS[c]) out.push(LEVEL_FLAGS[c]!);
  }
  return out;
}

/**
 * Parse with output captured: `--help`/`--version` text goes to `io.stdout`
 * and `done` is true; a usage error throws `UsageError` (one line).
 */
export async function parseYargs<T>(
  y: Argv<T>,
  argv: string[],
  io: Io,
): Promise<{ args: T & GeneralArgs; done: boolean }> {
  return new Promise((resolve, reject) => {
    // DCMTK's two-letter -ll, which yargs would read as -l -l (options end at --).
    const end = argv.indexOf("--");
    const given = argv.map((a, i) => (a === "-ll" && (end < 0 || i < end) ? "--log-level" : a));
    void y.parse(given, {}, (err: Error | undefined, args: unknown, output: string) => {
      if (err) return reject(new UsageError(err.message.split("\n")[0] ?? err.message));
      const a = args as T & GeneralArgs;
      a.levelFlags = levelFlagsOf(given);
      if (output) {
        io.stdout.write(output.endsWith("\n") ? output : `${output}\n`);
        return resolve({ args: a, done: true });
      }
      resolve({ args: a, done: false });
    });
  });
}

/** `--format`/`-f` and `--excel` as yargs options (no yargs default: `recordFormat` resolves them). */
export function recordFormatYargs(fallback: "ndjson" | "csv" | "tsv") {
  return {
    format: {
      alias: "f",
      choices: ["ndjson", "csv", "tsv"] as const,
      describe: `output format (default: ${fallback})`,
      group: "Output:",
    },
    excel: { type: "boolean", describe: EXCEL_DESCRIBE.replace(/\n/g, " "), group: "Output:" },
  } as const;
}
