/** `--retries N --retry-wait S`: the command-line side of net/retry.ts. */
import type { OptionSpec } from "./args.js";
import { NETWORK } from "./common.js";
import type { RetryPolicy } from "../net/retry.js";

export function retryOptions(): OptionSpec<"retries" | "retryWait">[] {
  return [
    {
      key: "retries",
      flags: ["--retries"],
      kind: "value",
      numeric: "int",
      min: 0,
      max: 100,
      metavar: "N",
      group: NETWORK,
      describe:
        "retry a transient failure (connection refused or reset,\nrejected-transient, status 0xA7xx or 0xC001) N times\n(default 0)",
    },
    {
      key: "retryWait",
      flags: ["--retry-wait"],
      kind: "value",
      numeric: "number",
      min: 0,
      max: 300,
      metavar: "S",
      group: NETWORK,
      describe:
        "first wait before a retry in seconds, doubled for each\nfurther retry, ±20 % jitter, at most 5 min (default 5)",
    },
  ];
}

export function retryPolicy(o: { retries?: number; retryWait?: number }): RetryPolicy {
  return {
    retries: o.retries ?? 0,
    waitMs: (o.retryWait ?? 5) * 1000,
  };
}
