/** The archive index commands: index, query. */
import type { Io } from "@dicom-pipes/dimse/io";
import { UsageError, type CliLogger } from "@dicom-pipes/dimse/cli";

export async function indexCommand(_argv: string[], _io: Io, _log: CliLogger): Promise<number> {
  throw new UsageError("index: not built yet");
}

export async function queryCommand(_argv: string[], _io: Io, _log: CliLogger): Promise<number> {
  throw new UsageError("query: not built yet");
}
