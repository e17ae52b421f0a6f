/**
 * Typed option groups. The DCMTK parser (`cli/args.ts`) returns a
 * `Record<string, unknown>`; `typedOptions` turns it into one of these
 * interfaces once, at the tool's entry, so every later read is typed and a
 * misspelt key is a compile error. Each interface lists the keys of one
 * group of `OptionSpec`s (`cli/common.ts`, `cli/retry.ts`, `cli/peers.ts`,
 * `app/pacing.ts`) with the type the parser gives their values: `value`
 * options a string (a number with `numeric`), `flag` options `true`, `set`
 * options their `value`, `list` options an array of strings.
 */
import type { OptionSpec, ParsedArgs } from "../cli/args.js";
import type { KeysOf } from "../cli/options.js";

export type {
  GeneralOptions,
  OutputOptions,
  ScpLimitOptions,
  ScuNetworkOptions,
} from "../cli/options.js";

/** Batch input and its pacing (`pacingOptions`, `shardOption`, `--keep-going`). */
export interface PacingOptions {
  jobs?: number;
  throttle?: number;
  batchSize?: number;
  batchWait?: number;
  window?: string;
  tz?: string;
  journal?: string;
  noJournal?: boolean;
  shard?: string;
  keepGoing?: boolean;
}

/** The parsed options of a tool, typed; `T` is the union of its groups and its own keys. */
export function typedOptions<T extends object>(p: ParsedArgs): Readonly<T> {
  return p.opts as Readonly<T>;
}

/** Option specs whose keys are keys of `T`: a spec with a key the tool does not read is a compile error. */
export type OptionTable<T extends object> = OptionSpec<KeysOf<T>>[];
