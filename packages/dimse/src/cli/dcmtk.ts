/**
 * The start of every DCMTK-style tool: help when called without
 * arguments, parsing, --help, --version, the log level; and the checks the
 * network tools share (peer and port, output format, output directory,
 * `-k` keys, timeouts).
 */
import { statSync } from "node:fs";
import { makeDirs, unwritableReason } from "../io/dirs.js";
import { readFile } from "node:fs/promises";
import { parsePart10 } from "../dicom/part10.js";
import type { Dataset } from "../dicom/dataset.js";
import { dirname, resolve } from "node:path";
import {
  parseArgs,
  UnknownOptionError,
  type HelpText,
  type OptionSpec,
  type ParsedArgs,
} from "./args.js";
import { printHelp, versionLine } from "./help.js";
import { DCMTK_OPTIONS } from "./dcmtk-options.js";
import { Exit, ExitError, UsageError } from "./exit.js";
import type { CliLogger } from "./logger.js";
import { resolveLogLevel } from "./common.js";
import type { Io } from "../io/io.js";
import { KeyError, parseKey, type ParsedKey } from "../records/keys.js";
import { validateKeyValues, ValueError } from "../records/validate.js";
import type { NetError } from "../net/errors.js";
import { connect, type ContextProposal } from "../net/client.js";
import type { Association } from "../net/association.js";
import type { Logger } from "../net/logger.js";
import { resolvePeer } from "./peers.js";

/**
 * Parse a DCMTK-style command line. Returns the parsed arguments, or an
 * exit status when the call was for help or the version (already printed).
 * The help is rendered from `specs`, the table argv is parsed with.
 */
export function startDcmtkTool(
  tool: string,
  argv: string[],
  specs: OptionSpec[],
  io: Io,
  log: CliLogger,
  help: HelpText,
  version: () => string,
): ParsedArgs | number {
  if (argv.length === 0) {
    printHelp(io, help, specs);
    return Exit.OK;
  }
  const p = parseDcmtkArgs(tool, argv, specs);
  if (p.opts.help) {
    printHelp(io, help, specs);
    return Exit.OK;
  }
  if (p.opts.version) {
    io.stdout.write(`${versionLine(tool, version())}\n`);
    return Exit.OK;
  }
  log.level = resolveLogLevel(p);
  if (p.opts.arguments)
    log.info(
      `calling '${tool}' with ${argv.length} arguments: ${argv.map((a) => `'${a}'`).join(" ")}`,
    );
  return p;
}

/**
 * `parseArgs`, telling an option of the DCMTK tool we stand in for (e.g. `+tls`
 * for findscu-ts) that is not implemented from an unknown one.
 */
export function parseDcmtkArgs(tool: string, argv: string[], specs: OptionSpec[]): ParsedArgs {
  try {
    return parseArgs(argv, specs);
  } catch (e) {
    const dcmtk = tool.replace(/-ts$/, "");
    const known =
      e instanceof UnknownOptionError
        ? DCMTK_OPTIONS[dcmtk]?.find(([short, long]) => short === e.option || long === e.option)
        : undefined;
    if (!known) throw e;
    const name = known[0] ? `${known[0]} (${known[1]})` : known[1];
    throw new UnknownOptionError(
      (e as UnknownOptionError).option,
      `DCMTK ${dcmtk}'s option ${name} is not implemented in ${tool}`,
    );
  }
}

/**
 * `peer port [rest...]` as every SCU takes them, or `--peer NAME` from the
 * peers file; fills `opts` from the peer and the environment (see `resolvePeer`).
 */
export function peerAndPort(
  positionals: string[],
  opts: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  listen = false,
): { peer: string; port: number; rest: string[] } {
  return resolvePeer(positionals, opts, env, listen);
}

export function parsePort(text: string, allowZero = false): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535 || (!allowZero && port < 1))
    throw new UsageError(`Invalid parameter value ${text}`);
  return port;
}

/** A choice-valued option, checked. */
export function choiceOption<T extends string>(
  value: unknown,
  flag: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw new UsageError(
      `Invalid parameter value ${String(value)} for option ${flag} (${allowed.join(", ")})`,
    );
  return value as T;
}

/**
 * An existing directory we can write to (default: the working directory),
 * else exit 45 as DCMTK movescu: missing, not a directory, or not writable
 * (tried by creating an entry, see `unwritableReason`).
 */
export function outputDirectory(value: unknown, io: Io): string {
  const od = resolve(String(value ?? io.cwd ?? "."));
  const why = unwritableReason(od);
  if (why === "does not exist")
    throw new ExitError(Exit.OUTPUT_DIR, `specified output directory does not exist: ${od}`);
  if (why) throw new ExitError(Exit.OUTPUT_DIR, `output directory ${od} ${why}`);
  return od;
}

/**
 * A folder the tool will create if needed (`-o`, `--info-folder`), checked
 * before any input is read and without creating anything: it must be a
 * writable folder, or its nearest existing parent must be one; else exit 45.
 */
export function checkOutputFolder(path: string, what = "output folder"): void {
  let at = resolve(path);
  for (;;) {
    const why = unwritableReason(at);
    if (why === undefined) return;
    if (why !== "does not exist" || dirname(at) === at)
      throw new ExitError(
        Exit.OUTPUT_DIR,
        `cannot use the ${what} ${path}: ${at === resolve(path) ? "it" : at} ${why}`,
      );
    at = dirname(at);
  }
}

/** Create a folder checked with `checkOutputFolder` (and its parents); failure is exit 45. */
export async function makeOutputDirectory(path: string, what = "output folder"): Promise<void> {
  try {
    await makeDirs(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ExitError(
      Exit.OUTPUT_DIR,
      `cannot create the ${what} ${path}: ${err.code === "ENOTDIR" ? "a part of the path is not a directory" : err.message}`,
    );
  }
}

/** `-k` keys; a bad one is a usage error with `message(key)` (DCMTK's wording differs per tool). */
export function parseKeys(
  texts: unknown,
  message: (e: KeyError) => string = (e) => e.message,
): ParsedKey[] {
  let keys: ParsedKey[];
  try {
    keys = ((texts as string[] | undefined) ?? []).map(parseKey);
  } catch (e) {
    if (e instanceof KeyError) throw new UsageError(message(e));
    throw e;
  }
  try {
    validateKeyValues(keys);
  } catch (e) {
    if (e instanceof ValueError) throw new UsageError(`-k ${e.message}`);
    throw e;
  }
  return keys;
}

/** Files named as arguments must exist (checked before any network work). */
export function checkFiles(files: string[]): void {
  for (const f of files) {
    let ok = false;
    try {
      ok = statSync(f).isFile();
    } catch {
      ok = false;
    }
    if (!ok) throw new UsageError(`cannot access file: ${f}`);
  }
}

/** Timeout options in milliseconds (`-to`, `-ta`, `-td`). */
export function timeouts(o: { timeout?: number; acseTimeout?: number; dimseTimeout?: number }): {
  connect?: number;
  acse: number;
  dimse?: number;
} {
  const ms = (v: number | undefined) => (v === undefined ? undefined : v * 1000);
  return { connect: ms(o.timeout), acse: ms(o.acseTimeout) ?? 30000, dimse: ms(o.dimseTimeout) };
}

/** A failed association request as DCMTK reports it (exit 61): the rejection and its reasons, no context, or the network condition. */
export function associationFailure(e: NetError): ExitError {
  const message =
    e.kind === "rejected"
      ? "Association Rejected:"
      : e.kind === "no-context"
        ? "No Acceptable Presentation Contexts"
        : `Association Request Failed: ${e.condition}`;
  return new ExitError(Exit.ASSOCIATION, message, e.details);
}

/** A port we cannot listen on, as DCMTK reports it (exit 60). */
export function listenFailure(e: unknown): ExitError {
  const err = e as NodeJS.ErrnoException;
  const text =
    err.code === "EADDRINUSE"
      ? "Address already in use"
      : err.code === "EACCES"
        ? "Permission denied"
        : err.message;
  return new ExitError(
    Exit.LISTEN,
    `cannot create network: 0006:031c TCP Initialization Error: ${text}`,
  );
}

/** A DCMTK query file (Part 10 or a bare dataset) as a dataset. */
export async function readQueryFile(path: string): Promise<Dataset> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    throw new UsageError(`cannot access file: ${path}`);
  }
  try {
    return parsePart10(buf).dataset;
  } catch (e) {
    throw new ExitError(Exit.USAGE, `${path}: not a DICOM query file (${(e as Error).message})`);
  }
}

/** The peer and network settings every SCU takes from `peer port`, `-aet`, `-aec`, `-pdu`, `--bind`, `-to`, `-ta`. */
export interface ScuPeer {
  peer: string;
  port: number;
  aet: string;
  call: string;
  maxPdu?: number;
  bind?: string;
  timeouts: { connect?: number; acse: number };
}

/** Open an association to the peer with these presentation contexts. */
export function connectPeer(
  s: ScuPeer,
  contexts: ContextProposal[],
  log: Logger,
): Promise<Association> {
  return connect({
    host: s.peer,
    port: s.port,
    callingAet: s.aet,
    calledAet: s.call,
    contexts,
    maxPdu: s.maxPdu,
    bindAddress: s.bind,
    connectTimeoutMs: s.timeouts.connect,
    acseTimeoutMs: s.timeouts.acse,
    log,
  });
}

/** End an association as DCMTK's SCUs do: A-RELEASE, or A-ABORT with `--abort`, logged at -v. */
export async function endAssociation(
  assoc: Association,
  abort: boolean,
  log: Logger,
): Promise<void> {
  if (assoc.closed) return;
  if (abort) {
    log.info("Aborting Association");
    assoc.abort();
  } else {
    log.info("Releasing Association");
    await assoc.release();
  }
}
