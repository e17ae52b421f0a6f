/**
 * Command lines in DCMTK's grammar: `-` and `+` options with multi-letter
 * short forms (`-aet`, `+P`, `-xi`), a long alias for each (`--aetitle`),
 * values in the next argument, options and positionals interleaved, the
 * rightmost of conflicting options winning, repeatable list options, and
 * `@file` expansion. GNU-style `--name=value` is accepted for long names.
 */
import { readFileSync } from "node:fs";
import { exitTable, UsageError } from "./exit.js";

export interface OptionSpec<K extends string = string> {
  /** Result key (typed by the tool's options interface: see `app/options.ts`). */
  key: K;
  /** Every spelling, e.g. `["-aet", "--aetitle"]`. */
  flags: string[];
  /**
   * flag: sets true; value: one value, last wins; list: values accumulate;
   * set: assigns `value` to `key` (choice groups such as `-S`/`-P`, rightmost wins).
   */
  kind: "flag" | "value" | "list" | "set";
  value?: unknown;
  /** Values consumed by value/list options (default 1). */
  arity?: number;
  metavar?: string;
  numeric?: "int" | "number";
  min?: number;
  max?: number;
  describe: string;
  group: string;
  hidden?: boolean;
}

export interface ParsedArgs {
  opts: Record<string, unknown>;
  positionals: string[];
  /** Keys in the order they were given (for conflict checks). */
  given: string[];
}

/** Expand `@file` arguments into the file's words (double quotes group). */
export function expandAtFiles(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a.length > 1 && a.startsWith("@")) {
      let text: string;
      try {
        text = readFileSync(a.slice(1), "utf8");
      } catch {
        throw new UsageError(`cannot access file: ${a.slice(1)}`);
      }
      const re = /"([^"]*)"|(\S+)/g;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text))) out.push(m[1] ?? m[2]!);
    } else out.push(a);
  }
  return out;
}

function looksLikeOption(tok: string): boolean {
  if (tok.length < 2) return false;
  if (tok[0] !== "-" && tok[0] !== "+") return false;
  // Negative numbers are values, not options.
  return !/^-\d+(\.\d+)?$/.test(tok);
}

/** An option the tool does not know (`option` as given). */
export class UnknownOptionError extends UsageError {
  constructor(
    readonly option: string,
    message = `Unknown option ${option}`,
  ) {
    super(message);
  }
}

export function parseArgs(argv: string[], specs: OptionSpec[]): ParsedArgs {
  const byFlag = new Map<string, OptionSpec>();
  for (const s of specs) for (const f of s.flags) byFlag.set(f, s);
  const opts: Record<string, unknown> = {};
  const positionals: string[] = [];
  const given: string[] = [];
  const args = expandAtFiles(argv);
  for (let i = 0; i < args.length; i++) {
    const tok = args[i]!;
    if (tok === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    let spec = byFlag.get(tok);
    let inline: string | undefined;
    if (!spec && tok.startsWith("--") && tok.includes("=")) {
      const eq = tok.indexOf("=");
      spec = byFlag.get(tok.slice(0, eq));
      if (spec && (spec.kind === "value" || spec.kind === "list") && (spec.arity ?? 1) === 1)
        inline = tok.slice(eq + 1);
      else spec = undefined;
    }
    if (!spec) {
      if (looksLikeOption(tok)) throw new UnknownOptionError(tok);
      positionals.push(tok);
      continue;
    }
    given.push(spec.key);
    switch (spec.kind) {
      case "flag":
        opts[spec.key] = true;
        break;
      case "set":
        opts[spec.key] = spec.value;
        break;
      case "value":
      case "list": {
        const n = spec.arity ?? 1;
        const values: unknown[] = [];
        if (inline !== undefined) values.push(convert(spec, tok, inline));
        else {
          for (let k = 0; k < n; k++) {
            const v = args[i + 1];
            if (v === undefined) throw new UsageError(`Missing parameter for option ${tok}`);
            values.push(convert(spec, tok, v));
            i++;
          }
        }
        const value = n === 1 ? values[0] : values;
        if (spec.kind === "value") opts[spec.key] = value;
        else ((opts[spec.key] ??= []) as unknown[]).push(value);
        break;
      }
    }
  }
  return { opts, positionals, given };
}

function convert(spec: OptionSpec, flag: string, v: string): unknown {
  if (!spec.numeric) return v;
  const n = Number(v);
  if (v.trim() === "" || Number.isNaN(n) || (spec.numeric === "int" && !Number.isInteger(n)))
    throw new UsageError(`Invalid parameter value ${v} for option ${flag}`);
  if (spec.min !== undefined && n < spec.min)
    throw new UsageError(
      `Invalid parameter value ${v} for option ${flag} (must be >= ${spec.min})`,
    );
  if (spec.max !== undefined && n > spec.max)
    throw new UsageError(
      `Invalid parameter value ${v} for option ${flag} (must be <= ${spec.max})`,
    );
  return n;
}

/** A command line to copy, with what it does (printed as a `#` comment above it). */
export type Example = string | readonly [command: string, note: string];

export interface HelpText {
  tool: string;
  title: string;
  /** Synopsis lines. */
  usage: string;
  parameters?: Array<[string, string]>;
  /** Subcommands (dcmdir): name and what it does. */
  commands?: Array<[string, string]>;
  description?: string;
  examples?: Example[];
  epilogue?: string;
  /** The exit statuses the tool can return, printed last (see `exitTable`). */
  exits?: readonly number[];
}

/** The width help text is wrapped to. */
const HELP_WIDTH = 100;

/** A line broken at spaces into lines of at most `width` characters (a longer word stays whole). */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const at = rest.lastIndexOf(" ", width);
    if (at <= 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

/** Help in DCMTK's layout: parameters, then option groups with short and long forms. */
export function formatHelp(h: HelpText, specs: OptionSpec[]): string {
  const lines: string[] = [`${h.tool}: ${h.title}`, `usage: ${h.usage}`, ""];
  if (h.description)
    lines.push(...h.description.split("\n").flatMap((l) => wrap(l, HELP_WIDTH)), "");
  for (const [title, rows] of [
    ["commands", h.commands],
    ["parameters", h.parameters],
  ] as const) {
    if (!rows?.length) continue;
    lines.push(`${title}:`);
    const width = Math.max(26, ...rows.map(([p]) => p.length + 2));
    for (const [p, d] of rows) {
      const [first, ...more] = wrap(d, HELP_WIDTH - width - 2);
      lines.push(`  ${p.padEnd(width)}${first}`, ...more.map((l) => " ".repeat(width + 2) + l));
    }
    lines.push("");
  }
  const groups: string[] = [];
  for (const s of specs) if (!s.hidden && !groups.includes(s.group)) groups.push(s.group);
  for (const g of groups) {
    lines.push(`${g}:`);
    for (const s of specs) {
      if (s.hidden || s.group !== g) continue;
      const short = s.flags.find((f) => !f.startsWith("--")) ?? "";
      const long = s.flags.find((f) => f.startsWith("--")) ?? "";
      const head = `  ${short.padEnd(6)} ${long}${s.metavar ? ` ${s.metavar}` : ""}`;
      const desc = s.describe.split("\n").flatMap((l) => wrap(l, HELP_WIDTH - 32));
      if (head.length < 32) {
        lines.push(head.padEnd(32) + desc[0]);
      } else {
        lines.push(head);
        lines.push(" ".repeat(32) + desc[0]);
      }
      for (const d of desc.slice(1)) lines.push(" ".repeat(32) + d);
    }
    lines.push("");
  }
  if (h.examples?.length) {
    lines.push("examples:");
    for (const e of h.examples) {
      if (typeof e === "string") lines.push(`  ${e}`);
      else lines.push(`  # ${e[1]}`, `  ${e[0]}`);
    }
    lines.push("");
  }
  if (h.epilogue) lines.push(...h.epilogue.split("\n").flatMap((l) => wrap(l, HELP_WIDTH)), "");
  if (h.exits) lines.push(exitTable(h.exits), "");
  return lines.join("\n");
}
