/**
 * Options of batch tools that read query tables: spreadsheets (`--sheet`),
 * `--normalize` (`--mrn-width`, `--date-order`) and `--unmatched FILE`.
 */
import type { TableOptions } from "../io/input.js";
import type { NormalizeOptions } from "../io/normalize.js";
import { UnmatchedRows } from "../io/unmatched.js";
import type { OptionSpec } from "./args.js";
import { choiceOption } from "./dcmtk.js";
import { Exit, ExitError, UsageError } from "./exit.js";
import type { CliLogger } from "./logger.js";

/** The table options a batch tool reads, typed. */
export interface TableInputOptions {
  sheet?: string;
  normalize?: boolean;
  mrnWidth?: number;
  dateOrder?: string;
  unmatched?: string;
}

export function tableOptions(group: string): OptionSpec<keyof TableInputOptions & string>[] {
  return [
    {
      key: "sheet",
      flags: ["--sheet"],
      kind: "value",
      metavar: "NAME",
      group,
      describe: "the sheet of an .xlsx input to read (default: the first)",
    },
    {
      key: "normalize",
      flags: ["--normalize"],
      kind: "flag",
      group,
      describe:
        "rewrite spreadsheet conveniences: PatientID padded to\n--mrn-width, DD/MM/YYYY or MM/DD/YYYY dates (--date-order)\nand YYYY-MM-DD as YYYYMMDD, descriptions as *text*;\neach change logged at -v",
    },
    {
      key: "mrnWidth",
      flags: ["--mrn-width"],
      kind: "value",
      numeric: "int",
      min: 1,
      max: 64,
      metavar: "N",
      group,
      describe: "with --normalize: left-pad numeric PatientIDs with zeros to N digits",
    },
    {
      key: "dateOrder",
      flags: ["--date-order"],
      kind: "value",
      metavar: "dmy|mdy",
      group,
      describe: "with --normalize: read nn/nn/yyyy dates as day/month or month/day",
    },
    {
      key: "unmatched",
      flags: ["--unmatched"],
      kind: "value",
      metavar: "FILE",
      group,
      describe:
        "write the input rows that matched nothing or failed to FILE,\nin the input's columns (CSV; NDJSON for .ndjson), to fix and\nrun again",
    },
  ];
}

/** The checked table options; they need a batch input. */
export function tableSetting(
  o: TableInputOptions,
  batch: boolean,
  log: CliLogger,
): TableOptions | undefined {
  const given = (["sheet", "normalize", "mrnWidth", "dateOrder"] as const).filter(
    (k) => o[k] !== undefined,
  );
  if (given.length === 0) return undefined;
  if (!batch) throw new UsageError("--sheet and --normalize need a query table (batch input)");
  if (!o.normalize && (o.mrnWidth !== undefined || o.dateOrder !== undefined))
    throw new UsageError("--mrn-width and --date-order need --normalize");
  const normalize: NormalizeOptions | undefined = o.normalize
    ? {
        mrnWidth: o.mrnWidth,
        dateOrder:
          o.dateOrder === undefined
            ? undefined
            : choiceOption(o.dateOrder, "--date-order", ["dmy", "mdy"] as const, "dmy"),
        onChange: (where, column, from, to) =>
          log.info(`${where}: ${column} "${from}" normalized to "${to}"`),
      }
    : undefined;
  return { sheet: o.sheet, normalize };
}

/** `--unmatched FILE`, opened (exit 45 when it cannot be written); it needs a query table. */
export async function unmatchedSetting(
  value: unknown,
  batch: boolean,
): Promise<UnmatchedRows | undefined> {
  if (value === undefined) return undefined;
  if (!batch) throw new UsageError("--unmatched needs a query table (batch input)");
  const rows = new UnmatchedRows(String(value));
  try {
    await rows.open();
  } catch (e) {
    throw new ExitError(
      Exit.OUTPUT_DIR,
      `--unmatched ${String(value)}: cannot write: ${(e as Error).message}`,
    );
  }
  return rows;
}
