/**
 * Typed settings of a run, read from the typed option groups with every
 * default in one place: the peer and the SCU's network settings, and the
 * results (the record writer on stdout, the progress line on stderr).
 */
import type { Io } from "../io/io.js";
import { RecordWriter, type OutputFormat, type RecordWriterOptions } from "../io/output.js";
import type { RetryPolicy } from "../net/retry.js";
import { DEFAULT_CALLED_AET, recordFormat } from "../cli/common.js";
import { peerAndPort, timeouts, type ScuPeer } from "../cli/dcmtk.js";
import type { CliLogger } from "../cli/logger.js";
import { Progress, progressWanted } from "../cli/progress.js";
import { retryPolicy } from "../cli/retry.js";
import type { OutputOptions, ScuNetworkOptions } from "./options.js";

/** Where an SCU connects and how: `peer port` (or `--peer`), `-aet`, `-aec`, `-pdu`, `--bind`, `-to/-ta/-td`, `--retries`. */
export interface ScuSettings extends ScuPeer {
  timeouts: { connect?: number; acse: number; dimse?: number };
  retry: RetryPolicy;
  /** Positionals after `peer port` (query files, files to send). */
  rest: string[];
}

export interface ScuDefaults {
  /** The calling AE title (DCMTK: the tool's name in capitals). */
  aet: string;
  /** `--peer` also sets the receive port (`+P`) from the peers file. */
  listen?: boolean;
}

export function scuSettings(
  o: ScuNetworkOptions,
  positionals: string[],
  io: Io,
  d: ScuDefaults,
): ScuSettings {
  // A named peer fills in the AE titles and the receive port (`resolvePeer`).
  const opts = o as Record<string, unknown>;
  const { peer, port, rest } = peerAndPort(positionals, opts, io.env, d.listen);
  return {
    peer,
    port,
    rest,
    aet: (opts.aetitle as string | undefined) ?? d.aet,
    call: (opts.call as string | undefined) ?? DEFAULT_CALLED_AET,
    maxPdu: o.maxPdu,
    bind: o.bind,
    timeouts: timeouts(o),
    retry: retryPolicy(o),
  };
}

/** Records on stdout and the progress line on stderr. */
export interface OutputSettings {
  format: OutputFormat;
  excel: boolean;
  /** False with `--no-output`. */
  output: boolean;
  /** A progress line on stderr: a terminal, not quiet, not CI, not `--no-progress`. */
  progress: boolean;
}

export function outputSettings(o: OutputOptions, io: Io, log: CliLogger): OutputSettings {
  const { format, excel } = recordFormat(o.format, o.excel);
  return {
    format,
    excel,
    output: !o.noOutput,
    progress: progressWanted(
      io.stderr,
      io.env ?? {},
      log.level === "fatal" || log.level === "error",
      Boolean(o.noProgress),
    ),
  };
}

/** The record writer on stdout the output settings ask for; undefined with `--no-output`. */
export function resultWriter(
  out: OutputSettings,
  io: Io,
  o: Omit<RecordWriterOptions, "format" | "excel"> = {},
): RecordWriter | undefined {
  if (!out.output) return undefined;
  return new RecordWriter(io.stdout, {
    ...o,
    format: out.format,
    excel: out.excel,
    // Fixed columns are for tables; NDJSON records keep their own keys.
    columns: out.format === "ndjson" ? undefined : o.columns,
  });
}

/** The progress line on stderr, shown when the output settings say so. */
export function progressBar(out: OutputSettings, io: Io): Progress {
  return new Progress({ stream: io.stderr, enabled: out.progress });
}
