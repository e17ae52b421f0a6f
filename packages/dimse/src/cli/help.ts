/**
 * `--help` and `--version` for every tool, DCMTK-style and yargs alike:
 * one help layout (`formatHelp`), one version line (`versionLine`), and the
 * help as data for the man page and completion generator (`tools/install`):
 * with `DICOM_PIPES_MANUAL=json` in the environment `--help` prints the
 * help text's parts and the option table the tool parses argv with, as one
 * JSON object (`HelpData`), instead of the text.
 */
import { formatHelp, type HelpText, type OptionSpec } from "./args.js";
import { writeStdoutText, type Io } from "../io/io.js";
import { DICTIONARY_SOURCE } from "../dicom/dict-source.js";

/** The environment variable that turns `--help` into `HelpData` JSON. */
export const MANUAL_ENV = "DICOM_PIPES_MANUAL";

/** What `--help` prints under `DICOM_PIPES_MANUAL=json`. */
export interface HelpData {
  help: HelpText;
  /** The option table argv is parsed with (hidden options included). */
  options: OptionSpec[];
}

/** Print a tool's help: the text, or `HelpData` JSON for the generator. */
export function printHelp(io: Io, help: HelpText, options: OptionSpec[]): void {
  const env = io.env ?? process.env;
  writeStdoutText(
    io,
    env[MANUAL_ENV] === "json"
      ? `${JSON.stringify({ help, options } satisfies HelpData)}\n`
      : formatHelp(help, options),
  );
}

/**
 * The one `--version` line of every tool:
 * `findscu-ts 0.1.0 (dicom-pipes; DICOM dictionary: dcmjs 0.50.3)`, with
 * further data sources after the dictionary (dcmanon: `PS3.15 2026d Table E.1-1`).
 */
export function versionLine(tool: string, version: string, sources: string[] = []): string {
  return `${tool} ${version} (${["dicom-pipes", `DICOM dictionary: ${DICTIONARY_SOURCE}`, ...sources].join("; ")})`;
}
