/**
 * Man pages (roff) and bash/zsh completion, rendered from what a tool's
 * `--help` prints under `DICOM_PIPES_MANUAL=json` (`HelpData`: the help
 * text's parts and the option table argv is parsed with), so the three
 * cannot drift apart. `tools/install` runs every bin for it in the build.
 */
import type { Example, HelpText, OptionSpec } from "./args.js";
import { exitStatuses } from "./exit.js";
import type { HelpData } from "./help.js";
import { PEER_ENV } from "./peers.js";
import { DCMTK_OPTIONS } from "./dcmtk-options.js";

/** What a man page says beyond the tool's own help. */
export interface ManualPage {
  /** The tool's help and option table; dcmdir's has `commands`. */
  data: HelpData;
  /** Each subcommand's help, by name (dcmdir). */
  commands?: Record<string, HelpData>;
  /** The `--version` line's version. */
  version: string;
  /** The first paragraph of the tool's README (Markdown), for DESCRIPTION. */
  readme?: string;
  /** The environment variables the tool reads: name and meaning. */
  environment: Array<[string, string]>;
  /** Pages to refer to, as `name(section)`. */
  seeAlso: string[];
}

/** Every spelling of every option in a table, hidden ones included (sorted). */
export function optionFlags(options: readonly OptionSpec[]): string[] {
  return [...new Set(options.flatMap((o) => o.flags))].sort();
}

/** The values a value option takes when its metavar lists them (`ndjson|csv|tsv`). */
export function optionChoices(o: OptionSpec): string[] | undefined {
  if (o.kind !== "value" && o.kind !== "list") return undefined;
  return o.metavar && /^[\w.-]+(\|[\w.-]+)+$/.test(o.metavar) ? o.metavar.split("|") : undefined;
}

/**
 * The environment variables a tool reads, from its options: the peers
 * file and calling AE title for a tool with `--peer`, the receive port for
 * one with `+P`, the line limit for one that reads records.
 */
export function toolEnvironment(
  options: readonly OptionSpec[],
  readsRecords: boolean,
): Array<[string, string]> {
  const flags = new Set(optionFlags(options));
  const env: Array<[string, string]> = [];
  if (flags.has("--peer")) {
    env.push(
      [
        PEER_ENV.peers,
        "the peers file for --peer (default: $XDG_CONFIG_HOME/dicom-pipes/peers.json)",
      ],
      ["XDG_CONFIG_HOME", "where the default peers file is (default: ~/.config)"],
      [PEER_ENV.aet, "the calling AE title (-aet), with or without --peer; -aet wins"],
    );
  }
  if (flags.has("+P"))
    env.push([PEER_ENV.listenPort, "the port to receive on (+P), with or without --peer; +P wins"]);
  if (readsRecords)
    env.push([
      "DICOM_PIPES_MAX_LINE",
      "the longest input line accepted, in bytes (default: 64 MiB); a longer one is exit 2",
    ]);
  return env;
}

// ---------------------------------------------------------------- roff

/** Text for roff: backslashes, hyphens as `\-` (they are typed), control characters at line start. */
export function roffEscape(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1");
}

/** A Markdown paragraph as roff: `code` bold, links as their text, emphasis dropped. */
function markdownToRoff(md: string): string {
  const text = md
    .replace(/\s*\n\s*/g, " ")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/\*\*([^*]+)\*\*/g, "$1");
  return text
    .split(/(`[^`]+`)/)
    .map((part) =>
      part.startsWith("`") && part.endsWith("`")
        ? `\\fB${roffEscape(part.slice(1, -1))}\\fR`
        : roffEscape(part),
    )
    .join("")
    .replace(/^([.'])/, "\\&$1");
}

/** Help text (lines broken for a terminal) as one roff paragraph. */
function prose(text: string): string {
  return roffEscape(text.replace(/\s*\n\s*/g, " ").trim());
}

function optionTag(o: OptionSpec): string {
  const flags = o.flags.map((f) => `\\fB${roffEscape(f)}\\fR`).join(", ");
  return o.metavar ? `${flags} \\fI${roffEscape(o.metavar)}\\fR` : flags;
}

function optionsSection(options: readonly OptionSpec[], headings = true): string[] {
  const out: string[] = [];
  const groups: string[] = [];
  for (const o of options) if (!o.hidden && !groups.includes(o.group)) groups.push(o.group);
  const sections: Array<[string, OptionSpec[]]> = groups.map((g) => [
    g,
    options.filter((o) => !o.hidden && o.group === g),
  ]);
  const hidden = options.filter((o) => o.hidden);
  if (hidden.length) sections.push(["accepted for compatibility (not in --help)", hidden]);
  for (const [g, list] of sections) {
    if (headings) out.push(`.SS "${roffEscape(g)}"`);
    for (const o of list) out.push(".TP", optionTag(o), prose(o.describe));
  }
  return out;
}

function examplesSection(examples: readonly Example[]): string[] {
  const out: string[] = [];
  for (const e of examples) {
    const [command, note] = typeof e === "string" ? [e, undefined] : e;
    if (note) out.push(".PP", prose(note));
    out.push(".PP", ".nf", ".RS 4", roffEscape(command), ".RE", ".fi");
  }
  return out;
}

function synopsis(h: HelpText): string[] {
  return [".nf", ...h.usage.split("\n").map((l) => roffEscape(l)), ".fi"];
}

/** A man page in section 1: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, EXAMPLES, SEE ALSO. */
export function renderManPage(m: ManualPage): string {
  const h = m.data.help;
  const out: string[] = [
    `.\\" Generated by tools/install from ${h.tool}'s option table and help. Do not edit.`,
    `.TH "${roffEscape(h.tool.toUpperCase())}" "1" "" "dicom-pipes ${roffEscape(m.version)}" "dicom-pipes"`,
    ".nh",
    ".ad l",
    ".SH NAME",
    `${roffEscape(h.tool)} \\- ${prose(h.title)}`,
    ".SH SYNOPSIS",
    ...synopsis(h),
    ".SH DESCRIPTION",
  ];
  if (m.readme) out.push(markdownToRoff(m.readme));
  if (h.description) out.push(".PP", prose(h.description));
  for (const [title, rows] of [
    ["Commands", h.commands],
    ["Parameters", h.parameters],
  ] as const) {
    if (!rows?.length) continue;
    out.push(`.SS ${title}`);
    for (const [p, d] of rows) out.push(".TP", `\\fB${roffEscape(p)}\\fR`, prose(d));
  }
  out.push(".SH OPTIONS", ...optionsSection(m.data.options));
  for (const [name, sub] of Object.entries(m.commands ?? {})) {
    out.push(`.SS "${roffEscape(`${h.tool} ${name}`)}"`, ...synopsis(sub.help));
    if (sub.help.description) out.push(".PP", prose(sub.help.description));
    out.push(...optionsSection(sub.options, false));
  }
  if (h.epilogue) out.push(".SH NOTES", prose(h.epilogue));
  const exits = h.exits ?? [];
  out.push(".SH EXIT STATUS");
  for (const [code, meaning] of exitStatuses(exits)) out.push(".TP", `.B ${code}`, prose(meaning));
  if (m.environment.length) {
    out.push(".SH ENVIRONMENT");
    for (const [name, meaning] of m.environment)
      out.push(".TP", `.B ${roffEscape(name)}`, prose(meaning));
  }
  const examples = [
    ...(h.examples ?? []),
    ...Object.values(m.commands ?? {}).flatMap((c) => c.help.examples ?? []),
  ];
  if (examples.length) out.push(".SH EXAMPLES", ...examplesSection(examples));
  if (m.seeAlso.length) {
    out.push(".SH SEE ALSO");
    out.push(
      m.seeAlso
        .map((s) => {
          const [, name, section] = /^(.*)\((\w+)\)$/.exec(s) ?? [s, s, "1"];
          return `\\fB${roffEscape(name ?? s)}\\fR(${section})`;
        })
        .join(", "),
    );
  }
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------- completion

/** An option or command as a completion word: only characters that need no quoting in bash or zsh. */
function word(w: string): string {
  if (!/^(--?|\+)?\w[\w=-]*$/.test(w)) throw new Error(`${w} cannot be completed safely`);
  return w;
}

/** Single-quoted for sh/zsh. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function functionName(tool: string): string {
  return `_dicom_pipes_${tool.replace(/[^\w]/g, "_")}`;
}

/** The bash `case` body completing one command's options and their listed values. */
function bashBody(options: readonly OptionSpec[], indent: string): string[] {
  const out: string[] = [`${indent}case $prev in`];
  const valued = options.filter((o) => o.kind === "value" || o.kind === "list");
  for (const o of valued) {
    const choices = optionChoices(o);
    const pattern = o.flags.map(word).join("|");
    out.push(
      choices
        ? `${indent}  ${pattern}) COMPREPLY=($(compgen -W ${shQuote(choices.join(" "))} -- "$cur")); return ;;`
        : `${indent}  ${pattern}) return ;;`,
    );
  }
  out.push(
    `${indent}esac`,
    `${indent}case $cur in`,
    `${indent}  [-+]*) COMPREPLY=($(compgen -W ${shQuote(optionFlags(options).map(word).join(" "))} -- "$cur")) ;;`,
    `${indent}esac`,
  );
  return out;
}

/**
 * bash completion: options (`-` and `+` words) from the option table, the
 * listed values of an option such as `--format`, file names otherwise
 * (`complete -o default`); dcmdir's commands first.
 */
export function renderBashCompletion(m: ManualPage): string {
  const tool = m.data.help.tool;
  const fn = functionName(tool);
  const out = [
    `# bash completion for ${tool}. Generated by tools/install from its option table. Do not edit.`,
    `${fn}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"`,
    "  COMPREPLY=()",
  ];
  const commands = Object.entries(m.commands ?? {});
  if (commands.length) {
    const first = [...commands.map(([n]) => n), ...optionFlags(m.data.options)].map(word);
    out.push(
      '  if [ "$COMP_CWORD" -eq 1 ]; then',
      `    COMPREPLY=($(compgen -W ${shQuote(first.join(" "))} -- "$cur"))`,
      "    return",
      "  fi",
      `  case "\${COMP_WORDS[1]}" in`,
    );
    for (const [name, sub] of commands)
      out.push(`    ${word(name)})`, ...bashBody(sub.options, "      "), "      ;;");
    out.push("  esac");
  } else out.push(...bashBody(m.data.options, "  "));
  out.push("}", `complete -o default -F ${fn} ${tool}`);
  return `${out.join("\n")}\n`;
}

/** The zsh lines completing one command's options and their listed values. */
function zshBody(options: readonly OptionSpec[], indent: string): string[] {
  const out: string[] = [`${indent}local -a opts`, `${indent}opts=(`];
  for (const o of options)
    for (const f of o.flags)
      out.push(
        `${indent}  ${shQuote(`${word(f).replace(/:/g, "\\:")}:${(o.describe.split("\n")[0] ?? "").trim()}`)}`,
      );
  out.push(`${indent})`, `${indent}case $words[CURRENT-1] in`);
  for (const o of options) {
    const choices = optionChoices(o);
    if (choices)
      out.push(
        `${indent}  ${o.flags.map(word).join("|")}) compadd -- ${choices.join(" ")}; return ;;`,
      );
  }
  out.push(
    `${indent}esac`,
    `${indent}if [[ $PREFIX == [-+]* ]]; then _describe -t options option opts; else _files; fi`,
  );
  return out;
}

/** zsh completion (`#compdef`), the same words as the bash one. */
export function renderZshCompletion(m: ManualPage): string {
  const tool = m.data.help.tool;
  const out = [
    `#compdef ${tool}`,
    `# zsh completion for ${tool}. Generated by tools/install from its option table. Do not edit.`,
  ];
  const commands = Object.entries(m.commands ?? {});
  if (commands.length) {
    out.push(
      "if (( CURRENT == 2 )); then",
      `  compadd -- ${[...commands.map(([n]) => n), ...optionFlags(m.data.options)].map(word).join(" ")}`,
      "  return",
      "fi",
      "case $words[2] in",
    );
    for (const [name, sub] of commands)
      out.push(`  ${word(name)})`, ...zshBody(sub.options, "    "), "    ;;");
    out.push("esac");
  } else out.push(...zshBody(m.data.options, ""));
  return `${out.join("\n")}\n`;
}

/** The first paragraph of a README after its title (Markdown), for DESCRIPTION. */
export function readmeSummary(markdown: string): string | undefined {
  const paragraphs = markdown.split(/\n\s*\n/).map((p) => p.trim());
  return paragraphs.find((p) => p && !/^(#|```|\||>|<|!\[)/.test(p));
}

/** The DCMTK command a tool stands in for (`findscu` for findscu-ts), if any. */
export function dcmtkCounterpart(tool: string): string | undefined {
  const name = tool.replace(/-ts$/, "");
  return name !== tool && DCMTK_OPTIONS[name] ? name : undefined;
}
