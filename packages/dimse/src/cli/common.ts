/** Option groups shared by the DCMTK-compatible tools, log-level resolution, and the run wrapper. */
import { createRequire } from "node:module";
import type { OptionSpec, ParsedArgs } from "./args.js";
import type {
  GeneralOptions,
  KeysOf,
  OutputOptions,
  ScpLimitOptions,
  ScuNetworkOptions,
} from "./options.js";
import { Exit, ExitError, UsageError } from "./exit.js";
import { createLogger, parseLogLevel, type CliLogger } from "./logger.js";
import { clearProgressLine } from "./progress.js";
import { peerOptions } from "./peers.js";
import type { LogLevel } from "../net/logger.js";
import type { Io } from "../io/io.js";
import { WriteError, type OutputFormat } from "../io/output.js";
import { InputError } from "../io/input.js";

export const GENERAL = "general options";
export const NETWORK = "network options";
export const OUTPUT = "output options";

export function generalOptions(): OptionSpec<KeysOf<GeneralOptions>>[] {
  return [
    {
      key: "help",
      flags: ["-h", "--help"],
      kind: "flag",
      group: GENERAL,
      describe: "print this help text and exit",
    },
    {
      key: "version",
      flags: ["--version"],
      kind: "flag",
      group: GENERAL,
      describe: "print version information and exit",
    },
    {
      key: "arguments",
      flags: ["--arguments"],
      kind: "flag",
      group: GENERAL,
      describe: "print expanded command line arguments",
    },
    {
      key: "quiet",
      flags: ["-q", "--quiet"],
      kind: "flag",
      group: GENERAL,
      describe: "quiet mode, print no warnings and errors",
    },
    {
      key: "verbose",
      flags: ["-v", "--verbose"],
      kind: "flag",
      group: GENERAL,
      describe: "verbose mode, print processing details",
    },
    {
      key: "debug",
      flags: ["-d", "--debug"],
      kind: "flag",
      group: GENERAL,
      describe: "debug mode, print debug information",
    },
    {
      key: "logLevel",
      flags: ["-ll", "--log-level"],
      kind: "value",
      metavar: "[l]evel",
      group: GENERAL,
      describe: "fatal, error, warn, info, debug, trace",
    },
    {
      key: "logConfig",
      flags: ["-lc", "--log-config"],
      kind: "value",
      metavar: "[f]ilename",
      group: GENERAL,
      describe: "accepted for compatibility and ignored",
      hidden: true,
    },
  ];
}

/** What `--excel` does, for every tool's help. */
export const EXCEL_DESCRIBE =
  "CSV for spreadsheets (implies --format csv): UTF-8 BOM,\nCRLF, text that Excel or LibreOffice would take for a\nnumber, date or formula (IDs with leading zeros, dates,\nUIDs, =...) kept as text";

/**
 * `--format ndjson|csv|tsv` and `--excel` for a tool that writes records
 * on stdout; `what` completes the --format description. See `recordFormat`.
 */
export function recordFormatOptions(what: string): OptionSpec<KeysOf<OutputOptions>>[] {
  return [
    {
      key: "format",
      flags: ["--format"],
      kind: "value",
      metavar: "ndjson|csv|tsv",
      group: OUTPUT,
      describe: `${what} (default: ndjson)`,
    },
    { key: "excel", flags: ["--excel"], kind: "flag", group: OUTPUT, describe: EXCEL_DESCRIBE },
  ];
}

/** The record format chosen by `--format` and `--excel`: excel is CSV; another explicit format with it is a usage error. */
export function recordFormat(
  format: unknown,
  excel: unknown,
  fallback: OutputFormat = "ndjson",
): { format: OutputFormat; excel: boolean } {
  const allowed: OutputFormat[] = ["ndjson", "csv", "tsv"];
  if (format !== undefined && !allowed.includes(format as OutputFormat))
    throw new UsageError(
      `Invalid parameter value ${String(format)} for option --format (${allowed.join(", ")})`,
    );
  if (!excel) return { format: (format as OutputFormat | undefined) ?? fallback, excel: false };
  if (format !== undefined && format !== "csv")
    throw new UsageError(
      `--excel writes CSV; it cannot be combined with --format ${String(format)}`,
    );
  return { format: "csv", excel: true };
}

/** DCMTK's called AE title when `-aec` is not given. */
export const DEFAULT_CALLED_AET = "ANY-SCP";

export interface ScuNetworkDefaults {
  aet: string;
  calledAet?: string;
}

export function scuNetworkOptions(d: ScuNetworkDefaults): OptionSpec<KeysOf<ScuNetworkOptions>>[] {
  return [
    {
      key: "aetitle",
      flags: ["-aet", "--aetitle"],
      kind: "value",
      metavar: "[a]etitle",
      group: NETWORK,
      describe: `set my calling AE title (default: ${d.aet})`,
    },
    {
      key: "call",
      flags: ["-aec", "--call"],
      kind: "value",
      metavar: "[a]etitle",
      group: NETWORK,
      describe: `set called AE title of peer (default: ${d.calledAet ?? DEFAULT_CALLED_AET})`,
    },
    {
      key: "timeout",
      flags: ["-to", "--timeout"],
      kind: "value",
      numeric: "number",
      min: 0,
      metavar: "[s]econds",
      group: NETWORK,
      describe: "timeout for connection requests (default: unlimited)",
    },
    {
      key: "acseTimeout",
      flags: ["-ta", "--acse-timeout"],
      kind: "value",
      numeric: "number",
      min: 0,
      metavar: "[s]econds",
      group: NETWORK,
      describe: "timeout for ACSE messages (default: 30)",
    },
    {
      key: "dimseTimeout",
      flags: ["-td", "--dimse-timeout"],
      kind: "value",
      numeric: "number",
      min: 0,
      metavar: "[s]econds",
      group: NETWORK,
      describe: "timeout for DIMSE messages (default: unlimited)",
    },
    {
      key: "socketTimeout",
      flags: ["-ts", "--socket-timeout"],
      kind: "value",
      numeric: "number",
      metavar: "[s]econds",
      group: NETWORK,
      describe: "accepted for compatibility",
      hidden: true,
    },
    {
      key: "maxPdu",
      flags: ["-pdu", "--max-pdu"],
      kind: "value",
      numeric: "int",
      min: 4096,
      max: 131072 * 64,
      metavar: "[n]umber of bytes",
      group: NETWORK,
      describe: "set max receive pdu to n bytes (default: 262144)",
    },
    {
      key: "bind",
      flags: ["--bind"],
      kind: "value",
      metavar: "ADDRESS",
      group: NETWORK,
      describe: "local address to connect from",
    },
    ...peerOptions(NETWORK),
  ];
}

/**
 * What an acceptor (storescp-ts, devpacs) bounds for each peer: its idle
 * time (DCMTK's `-td`), the associations served at once, and the size of
 * a message held in memory. See `scpLimits`.
 */
export function scpLimitOptions(): OptionSpec<KeysOf<ScpLimitOptions>>[] {
  return [
    {
      key: "dimseTimeout",
      flags: ["-td", "--dimse-timeout"],
      kind: "value",
      numeric: "number",
      min: 0,
      metavar: "[s]econds",
      group: NETWORK,
      describe:
        "abort an association when nothing arrives for s seconds\nwhile no request is being served (default: 60; 0: never)",
    },
    {
      key: "maxAssociations",
      flags: ["--max-associations"],
      kind: "value",
      numeric: "int",
      min: 1,
      max: 65535,
      metavar: "[n]umber",
      group: NETWORK,
      describe:
        "serve at most n associations at once; more are rejected\n(transient, local limit exceeded) (default: 100)",
    },
    {
      key: "maxMessage",
      flags: ["--max-message"],
      kind: "value",
      numeric: "int",
      min: 1,
      max: 1024,
      metavar: "[n] MiB",
      group: NETWORK,
      describe:
        "abort a peer sending a command or a non-storage data set\n(C-ECHO, C-FIND...) larger than n MiB (default: 4); C-STORE\ndata sets go to disk and have no limit",
    },
  ];
}

/** `scpLimitOptions` values as `serve()` takes them (undefined: its defaults). */
export function scpLimits(o: ScpLimitOptions): {
  dimseTimeoutMs?: number;
  maxAssociations?: number;
  maxMessageBytes?: number;
} {
  return {
    dimseTimeoutMs: o.dimseTimeout === undefined ? undefined : Number(o.dimseTimeout) * 1000,
    maxAssociations: o.maxAssociations,
    maxMessageBytes: o.maxMessage === undefined ? undefined : Number(o.maxMessage) * 1024 * 1024,
  };
}

/** Resolve `-q/-v/-d/-ll` to a level, with DCMTK's conflict rule (see `logLevelOf`). */
export function resolveLogLevel(p: ParsedArgs): LogLevel {
  return logLevelOf(p.opts as GeneralOptions, p.given);
}

/**
 * The log level of `-q/-v/-d/-ll`, as DCMTK's oflog sets it, for every
 * tool (DCMTK-style and yargs): `-ll` cannot be combined with the others;
 * of `-q`, `-v` and `-d` the rightmost given wins; `-q` is quiet mode,
 * fatal messages only (no warnings and no errors: DCMTK findscu -q does
 * not print a refused association), `-v` info, `-d` debug; the default
 * is warn. `given` lists the option keys in command-line order.
 */
export function logLevelOf(o: GeneralOptions, given: readonly string[]): LogLevel {
  if (o.logLevel !== undefined) {
    if (o.quiet || o.verbose || o.debug)
      throw new UsageError("--log-level not allowed with --verbose, --debug or --quiet");
    const l = parseLogLevel(String(o.logLevel));
    if (!l)
      throw new UsageError(
        `Invalid parameter value ${String(o.logLevel)} for option --log-level (fatal, error, warn, info, debug, trace)`,
      );
    return l;
  }
  const last = [...given]
    .reverse()
    .find((k) => (k === "quiet" || k === "verbose" || k === "debug") && o[k]);
  return last === "quiet"
    ? "fatal"
    : last === "verbose"
      ? "info"
      : last === "debug"
        ? "debug"
        : "warn";
}

/** Read a package's version from its package.json (path relative to the caller's module). */
export function packageVersion(importMetaUrl: string, rel = "../package.json"): string {
  const require = createRequire(importMetaUrl);
  return (require(rel) as { version: string }).version;
}

/**
 * Run a tool body, mapping errors to exit statuses and one-line messages:
 * usage errors print a hint to `--help` and exit 2.
 */
export async function runTool(
  tool: string,
  io: Io,
  body: (log: CliLogger) => Promise<number>,
  log: CliLogger = createLogger(tool, () => io.stderr),
): Promise<number> {
  try {
    return await body(log);
  } catch (e) {
    return reportError(tool, io, log, e);
  } finally {
    log.flush();
  }
}

export function reportError(tool: string, io: Io, log: CliLogger, e: unknown): number {
  log.flush();
  clearProgressLine(io.stderr);
  if (e instanceof UsageError) {
    io.stderr.write(`E: ${tool}: ${e.message}\nTry '${tool} --help' for more information.\n`);
    return e.code;
  }
  if (e instanceof ExitError) {
    log.error(e.message);
    for (const d of e.details) log.error(d);
    return e.code;
  }
  if (e instanceof InputError) {
    log.error(e.message);
    return Exit.USAGE;
  }
  if (e instanceof WriteError) {
    io.stderr.write(`E: ${tool}: ${e.message}\n`);
    return Exit.FAILURE;
  }
  const err = e as Error;
  log.error(err?.message ?? String(e));
  if (log.enabled("debug") && err?.stack) log.debug(err.stack);
  return Exit.FAILURE;
}
