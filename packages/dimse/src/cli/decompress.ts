/**
 * Output transfer syntax options shared by the tools that write received
 * or processed files (storescp-ts, movescu-ts/getscu-ts): DCMTK's `+t=`
 * (as received, the default) and `+te` (Explicit VR Little Endian, decoding
 * compressed pixel data), and `--decompress` (decode compressed syntaxes
 * only). Also storescu-ts' `--decompress auto|never|always`.
 */
import type { DecompressMode } from "../codec/index.js";
import type { OptionSpec } from "./args.js";
import { UsageError } from "./exit.js";

/** `--decompress`, and DCMTK's `+t=` and `+te` unless `dcmtk` is false (getscu has none). */
/** The decompression options a tool reads, typed. */
export interface DecompressOptions {
  outputSyntax?: string;
  decompress?: string;
}

export function outputSyntaxOptions(group: string, dcmtk = true): OptionSpec<"outputSyntax">[] {
  const all: OptionSpec<"outputSyntax">[] = [
    {
      key: "outputSyntax",
      flags: ["+t=", "--write-xfer-same"],
      kind: "set",
      value: "same",
      group,
      describe: "write each object in the transfer syntax received (default)",
    },
    {
      key: "outputSyntax",
      flags: ["--decompress"],
      kind: "set",
      value: "compressed",
      group,
      describe:
        "decode compressed objects (JPEG, JPEG-LS, JPEG 2000, HTJ2K,\nRLE, deflated) and write them in explicit VR little endian;\nan object that cannot be decoded fails (nothing written)",
    },
    {
      key: "outputSyntax",
      flags: ["+te", "--write-xfer-little"],
      kind: "set",
      value: "explicit-little",
      group,
      describe:
        "write every object in explicit VR little endian\n(decoding compressed ones as --decompress)",
    },
  ];
  return dcmtk ? all : all.filter((o) => o.flags[0] === "--decompress");
}

/** The mode chosen by `outputSyntaxOptions` (undefined: write as received). */
export function outputDecompressMode(o: DecompressOptions): DecompressMode | undefined {
  const v = o.outputSyntax;
  return v === "compressed" || v === "explicit-little" ? v : undefined;
}

/** storescu-ts: when to decode a file before sending it. */
export type SendDecompress = "auto" | "never" | "always";

/** `--decompress auto|never|always` (default auto). */
export function sendDecompressOption(group: string): OptionSpec<"decompress"> {
  return {
    key: "decompress",
    flags: ["--decompress"],
    kind: "value",
    metavar: "auto|never|always",
    group,
    describe:
      "auto (default): decode a compressed file when the peer\naccepts none of its compressed syntaxes but an uncompressed\none; always: decode every compressed file; never: send\nfiles as they are",
  };
}

export function sendDecompress(o: DecompressOptions): SendDecompress {
  const v = o.decompress;
  if (v === undefined) return "auto";
  if (v === "auto" || v === "never" || v === "always") return v;
  throw new UsageError(
    `Invalid parameter value ${String(v)} for option --decompress (expected auto, never or always)`,
  );
}
