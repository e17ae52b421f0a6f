/**
 * yargs for the tools with GNU-style options (inst-count, weekday-plot,
 * dumps-move, dcmanon, dcmdir): one configured instance per tool, shared
 * option groups, usage errors as `UsageError` (exit 2), and output captured
 * so in-process runs write to the injected streams. `--help` is rendered
 * from the instance's own option table in the layout of the DCMTK-style
 * tools (`formatHelp`: examples on their own lines), `--version` is
 * `versionLine`.
 */
import yargs, { type Argv } from "yargs";
import { writeStdoutText, type Io } from "../io/io.js";
import type { Example, HelpText, OptionSpec } from "./args.js";
import { UsageError } from "./exit.js";
import { printHelp, versionLine } from "./help.js";
import { EXCEL_DESCRIBE, GENERAL, logLevelOf } from "./common.js";
import type { LogLevel } from "../net/logger.js";

export const GENERAL_GROUP = "General:";

export interface ToolHelp {
  /** What the tool does, in a few words (the help's first line, the man page's NAME). */
  title: string;
  /** What the tool reads and writes, for the end of --help. */
  streams: string;
  /** The exit statuses the tool can return (130/143 are added). */
  exits: readonly number[];
  /** Data sources named in the --version line after the dictionary (see `versionLine`). */
  sources?: string[];
}

/** What `toolYargs` knows of an instance beyond yargs' own table: the help, and the examples given. */
const HELP = new WeakMap<object, { tool: string; help: ToolHelp; examples: Example[] }>();

/** What an analysis tool reads and writes, for `ToolHelp.streams`. */
export const ANALYSIS_STREAMS =
  "Reads NDJSON (or CSV/TSV, JSON arrays) on stdin or from files; writes data on stdout; logs on stderr.";

/** A yargs instance for a tool, with -q/-v/-d/--log-level; positionals are left to the tool. */
export function toolYargs(tool: string, version: string, help: ToolHelp): Argv {
  const y = yargs()
    .scriptName(tool)
    .version(versionLine(tool, version, help.sources))
    .help("help")
    .alias("help", "h")
    .strictOptions()
    .exitProcess(false)
    .parserConfiguration({ "strip-aliased": true, "duplicate-arguments-array": false })
    // Our help lays itself out (help.ts); not process.stdout.columns, which would make process.stdout.
    .wrap(100)
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
    .group(["help", "version"], GENERAL_GROUP);
  // Examples are kept for our help (yargs prints them in two columns, not copy-pasteable).
  const examples: Example[] = [];
  y.example = ((command: string, note: string) => {
    examples.push(note ? [command, note] : command);
    return y;
  }) as typeof y.example;
  HELP.set(y, { tool, help, examples });
  return y;
}

/**
 * A `toolYargs` instance's help and option table in the DCMTK-style tools'
 * terms: every option yargs accepts (key and aliases, hidden ones too), its
 * group, value (`a|b|c` for choices) and description.
 */
export function yargsHelp(y: Argv): { help: HelpText; options: OptionSpec[] } {
  const meta = HELP.get(y);
  if (!meta) throw new Error("not a toolYargs instance");
  const instance = y as unknown as YargsIntrospection;
  const o = instance.getOptions() as {
    key: Record<string, boolean>;
    alias: Record<string, string[]>;
    boolean: string[];
    number: string[];
    array: string[];
    choices: Record<string, string[]>;
    default: Record<string, unknown>;
    hiddenOptions: string[];
  };
  const usage = instance.getInternalMethods().getUsageInstance();
  const descriptions = usage.getDescriptions();
  const groupOf = new Map<string, string>();
  for (const [g, keys] of Object.entries(instance.getGroups()))
    for (const k of keys) if (!groupOf.has(k)) groupOf.set(k, groupName(g));
  const keys = [...groupOf.keys(), ...Object.keys(o.key).filter((k) => !groupOf.has(k))];
  const aliases = new Set(Object.values(o.alias).flat());
  const options: OptionSpec[] = [];
  for (const key of keys) {
    if (aliases.has(key) || !(key in o.key)) continue;
    const names = [key, ...(o.alias[key] ?? [])];
    const flags = [
      ...names.filter((n) => n.length === 1).map((n) => `-${n}`),
      ...names.filter((n) => n.length > 1).map((n) => `--${n}`),
    ];
    const flag = o.boolean.includes(key) || key === "help" || key === "version";
    const choices = o.choices[key];
    const metavar = flag
      ? undefined
      : choices
        ? choices.join("|")
        : o.number.includes(key)
          ? "N"
          : o.array.includes(key)
            ? "VALUE..."
            : "VALUE";
    let describe =
      key === "help"
        ? "print this help text and exit"
        : key === "version"
          ? "print version information and exit"
          : (descriptions[key] ?? "").replace(/^__yargsString__:/, "");
    const dflt = o.default[key];
    if (dflt !== undefined && dflt !== false && !/\(default/.test(describe))
      describe += ` (default: ${Array.isArray(dflt) ? dflt.join(",") : String(dflt)})`;
    options.push({
      key,
      flags,
      kind: flag ? "flag" : o.array.includes(key) ? "list" : "value",
      metavar,
      describe,
      group: groupOf.get(key) ?? GENERAL,
      hidden: o.hiddenOptions.includes(key) || undefined,
    });
  }
  const [synopsis = "", ...rest] = (usage.getUsage()[0]?.[0] ?? meta.tool).split("\n\n");
  const help: HelpText = {
    tool: meta.tool,
    title: meta.help.title,
    usage: synopsis,
    description: rest.join("\n\n") || undefined,
    examples: meta.examples,
    epilogue: meta.help.streams,
    exits: meta.help.exits,
  };
  return { help, options };
}

/** A yargs group ("Time window:") named as the DCMTK-style tools name theirs ("time window options"). */
function groupName(yargsGroup: string): string {
  const g = yargsGroup.replace(/:$/, "").toLowerCase();
  return g.endsWith("options") ? g : `${g} options`;
}

/** What yargs (18) has but does not type: its option table, groups and usage texts. */
interface YargsIntrospection {
  getOptions(): unknown;
  getGroups(): Record<string, string[]>;
  getInternalMethods(): {
    getUsageInstance(): {
      getDescriptions(): Record<string, string | undefined>;
      getUsage(): Array<[string, string]>;
    };
  };
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
    // `--help` is ours (from the option table): yargs is not asked to lay out a help of its own first.
    const options = end < 0 ? given : given.slice(0, end);
    if (options.includes("--help") || options.includes("-h")) {
      const { help, options: table } = yargsHelp(y as unknown as Argv);
      printHelp(io, help, table);
      return resolve({ args: { _: [] } as unknown as T & GeneralArgs, done: true });
    }
    void y.parse(given, {}, (err: Error | undefined, args: unknown, output: string) => {
      if (err) return reject(new UsageError(err.message.split("\n")[0] ?? err.message));
      const a = args as T & GeneralArgs & { help?: boolean };
      a.levelFlags = levelFlagsOf(given);
      if (a.help) {
        const { help, options } = yargsHelp(y as unknown as Argv);
        printHelp(io, help, options);
        return resolve({ args: a, done: true });
      }
      if (output) {
        writeStdoutText(io, output.endsWith("\n") ? output : `${output}\n`);
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
