/** The `--shard K/N` option of the batch tools. */
import type { OptionSpec } from "./args.js";
import { UsageError } from "./exit.js";
import { parseShard, type Shard } from "../records/shard.js";

export function shardOption(group: string): OptionSpec<"shard"> {
  return {
    key: "shard",
    flags: ["--shard"],
    kind: "value",
    metavar: "K/N",
    group,
    describe:
      "only the input records of shard K of N (1 <= K <= N),\nchosen by a stable hash of each record's UIDs (or\nof the whole row): N runs split one table",
  };
}

/** The checked `--shard` setting; it needs batch input (a table or records). */
export function shardSetting(value: unknown, batch: boolean): Shard | undefined {
  if (value === undefined) return undefined;
  if (!batch) throw new UsageError("--shard needs batch input (a table or records on stdin)");
  try {
    return parseShard(String(value));
  } catch (e) {
    throw new UsageError(`--shard: ${(e as Error).message}`);
  }
}
