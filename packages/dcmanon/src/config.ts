/** Turning parsed options into a run configuration: secret, option columns, maps. */
import { readFileSync } from "node:fs";
import { UsageError, type CliLogger } from "@dicom-pipes/dimse/cli";
import { lookupKeyword } from "@dicom-pipes/dimse/dicom";
import type { AnonConfig, BurnedInPolicy, CtpRun, PrivateRef, ResidualPolicy } from "./anon.js";
import { CtpScriptError, parseCtpScript, ruleLabel, type CtpCompat } from "./ctp.js";
import { parseRedactScript, RedactScriptError, type RedactScript } from "./redact.js";
import { Keys, MIN_SECRET_BYTES, normaliseId, parseShiftRange } from "./keys.js";
import { OPTIONS, type OptionColumn } from "./table.js";

export interface AnonArgs {
  "secret-file"?: string;
  "secret-env"?: string;
  "date-shift"?: string;
  "pseudonym-format": string;
  "patient-name": string;
  "uid-root": string;
  "on-residual": string;
  "residual-scan": boolean;
  "on-burned-in": string;
  "drop-identifiable"?: boolean;
  "id-map"?: string;
  "id-map-key": string;
  "day-shift-map"?: string;
  birthdate?: string;
  "drop-rules"?: string;
  "blank-tags"?: string;
  "blank-vr"?: string;
  "age-cap"?: number;
  "ctp-script"?: string;
  "read-pseudonym-from"?: string;
  "read-shift-from"?: string;
  "ctp-compat"?: string;
  redact?: string;
  "clean-pixel-data"?: boolean;
  decompress?: boolean;
  [flag: string]: unknown;
}

/** The secret: ≥ 32 bytes from a file or an environment variable; else a random per-run key (warned). */
export function loadKeys(a: AnonArgs, env: NodeJS.ProcessEnv, log: CliLogger): Keys {
  if (a["secret-file"] && a["secret-env"])
    throw new UsageError("give --secret-file or --secret-env, not both");
  let secret: Buffer | undefined;
  let from = "";
  if (a["secret-file"]) {
    from = `--secret-file ${a["secret-file"]}`;
    try {
      secret = readFileSync(a["secret-file"]);
    } catch (e) {
      throw new UsageError(
        `${from}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
      );
    }
    // A trailing newline from `echo` or an editor is not part of the key.
    secret = Buffer.from(secret.toString("latin1").replace(/\r?\n$/, ""), "latin1");
  } else if (a["secret-env"]) {
    from = `--secret-env ${a["secret-env"]}`;
    const v = env[a["secret-env"]];
    if (v === undefined) throw new UsageError(`${from}: the variable is not set`);
    secret = Buffer.from(v, "utf8");
  }
  if (!secret) {
    log.warn(
      "no --secret-file or --secret-env: a random key for this run only; UIDs, pseudonyms and shifts will differ in the next run (keep --map-out to re-identify)",
    );
    return Keys.random();
  }
  if (secret.length < MIN_SECRET_BYTES)
    throw new UsageError(
      `${from}: the secret has ${secret.length} bytes, at least ${MIN_SECRET_BYTES} are needed (e.g. head -c 48 /dev/urandom | base64 > key)`,
    );
  return new Keys(secret);
}

/** A file given to an option, as text; a usage error naming the option when it cannot be read. */
function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      `${flag} ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}

function readJsonMap(path: string, flag: string): Record<string, unknown> {
  const text = readText(path, flag);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: invalid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new UsageError(`${flag} ${path}: expected a JSON object {"key": value, ...}`);
  return doc as Record<string, unknown>;
}

/** CTP's lookup table (`.properties`): `ptid/<orig> = <new>` lines; `#`/`!` comments; other key types ignored. */
function readProperties(path: string): Record<string, string> {
  const text = readText(path, "--id-map");
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) return;
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!m)
      throw new UsageError(
        `--id-map ${path}:${i + 1}: expected KEYTYPE/orig = new, found "${line}"`,
      );
    const key = m[1]!.replace(/\\/g, "");
    if (key.startsWith("ptid/")) out[key.slice(5)] = m[2]!;
  });
  return out;
}

/** `{"sub-1234": "P0001"}` (PACSIFIER new_ids.json), `{"<PatientID>": "<pseudonym>"}`, or a CTP `.properties` lookup table (`ptid/…`). */
export function loadIdMap(path: string): Map<string, string> {
  const m = new Map<string, string>();
  const entries = path.endsWith(".properties")
    ? readProperties(path)
    : readJsonMap(path, "--id-map");
  for (const [k, v] of Object.entries(entries)) {
    if (typeof v !== "string" && typeof v !== "number")
      throw new UsageError(`--id-map ${path}: the value of "${k}" is not a string`);
    const id = normaliseId(String(v));
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id))
      throw new UsageError(
        `--id-map ${path}: pseudonym "${id}" for "${k}" is not 1–64 letters, digits, '.', '_' or '-'`,
      );
    m.set(normaliseId(k), id);
  }
  return m;
}

/** `{"sub-1234": "-35"}` (PACSIFIER day_shift.json): whole days, not 0. */
export function loadDayShiftMap(path: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(readJsonMap(path, "--day-shift-map"))) {
    const n =
      typeof v === "number"
        ? v
        : typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)
          ? Number(v)
          : NaN;
    if (!Number.isInteger(n))
      throw new UsageError(
        `--day-shift-map ${path}: the value of "${k}" is not a whole number of days`,
      );
    if (n === 0)
      throw new UsageError(
        `--day-shift-map ${path}: the shift of "${k}" is 0 (the dates would be kept)`,
      );
    m.set(normaliseId(k), n);
  }
  return m;
}

function choice<T extends string>(v: string, flag: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${flag} ${v}: expected one of ${allowed.join(", ")}`);
  return v as T;
}

function keywordTag(keyword: string, where: string): number {
  const e = lookupKeyword(keyword);
  if (!e) throw new UsageError(`${where}: "${keyword}" is not a DICOM keyword`);
  return e.tag;
}

/** MID anon_imgs.json: `{"Modality": ["sr"], "SeriesDescription": ["report", …]}` (a string or a list per keyword). */
export function loadDropRules(
  path: string,
): Array<{ tag: number; keyword: string; needles: string[] }> {
  return Object.entries(readJsonMap(path, "--drop-rules")).map(([keyword, v]) => {
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === "string" || typeof x === "number"))
      throw new UsageError(
        `--drop-rules ${path}: the value of "${keyword}" is not a string or a list of strings`,
      );
    return {
      tag: keywordTag(keyword, `--drop-rules ${path}`),
      keyword,
      needles: list.map((x) => String(x).toLowerCase()).filter((x) => x !== ""),
    };
  });
}

/** MID anon_tags.json: a list of keywords, or `{"VR": [keywords…]}` (MID groups them by VR). */
export function loadBlankTags(path: string): Set<number> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`--blank-tags ${path}: ${(e as Error).message}`);
  }
  const names = Array.isArray(doc)
    ? doc
    : doc && typeof doc === "object"
      ? Object.values(doc).flat()
      : undefined;
  if (!names?.every((n) => typeof n === "string"))
    throw new UsageError(`--blank-tags ${path}: expected a list of keywords or {"VR": [keywords]}`);
  return new Set((names as string[]).map((n) => keywordTag(n, `--blank-tags ${path}`)));
}

const KNOWN_VRS = new Set([
  "AE",
  "AS",
  "AT",
  "CS",
  "DA",
  "DS",
  "DT",
  "FD",
  "FL",
  "IS",
  "LO",
  "LT",
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "PN",
  "SH",
  "SL",
  "SQ",
  "SS",
  "ST",
  "SV",
  "TM",
  "UC",
  "UI",
  "UL",
  "UN",
  "UR",
  "US",
  "UT",
  "UV",
]);

/** MID anon_vrs.json as a list: `DT,DA,TM,UI,PN,SQ`. */
export function parseBlankVrs(text: string): Set<string> {
  const vrs = text
    .split(",")
    .map((v) => v.trim().toUpperCase())
    .filter(Boolean);
  for (const v of vrs)
    if (!KNOWN_VRS.has(v)) throw new UsageError(`--blank-vr ${text}: ${v} is not a VR`);
  return new Set(vrs);
}

function ageCap(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1 || v > 998)
    throw new UsageError(`--age-cap ${v}: expected whole years from 1 to 998`);
  return v;
}

/** `(000B,"CHUV_DEV_TML",01)` (a private element by creator) or `(0010,0020)`. */
export function parsePrivateRef(text: string, flag: string): PrivateRef {
  const t = text.trim();
  const priv = /^\(?\s*([0-9A-Fa-f]{4})\s*,\s*"([^"]+)"\s*,\s*([0-9A-Fa-f]{2})\s*\)?$/.exec(t);
  if (priv) {
    const group = parseInt(priv[1]!, 16);
    if (group % 2 === 0)
      throw new UsageError(`${flag} ${text}: group ${priv[1]} is not private (odd)`);
    return {
      text: `(${priv[1]!.toUpperCase()},"${priv[2]}",${priv[3]!.toUpperCase()})`,
      group,
      creator: priv[2]!.trim(),
      element: parseInt(priv[3]!, 16),
    };
  }
  const std = /^\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?$/.exec(t);
  if (std && parseInt(std[1]!, 16) % 2 === 0)
    return {
      text: `(${std[1]!.toUpperCase()},${std[2]!.toUpperCase()})`,
      group: parseInt(std[1]!, 16),
      element: parseInt(std[2]!, 16),
    };
  throw new UsageError(
    `${flag} ${text}: expected (gggg,"CREATOR",ee), e.g. '(000B,"CHUV_DEV_TML",01)', or a standard tag (gggg,eeee)`,
  );
}

/** `--ctp-script FILE`: the script, checked whole (exit 2 naming the line of what is not supported). */
export function loadCtp(path: string, compat: CtpCompat, log?: CliLogger): CtpRun {
  const text = readText(path, "--ctp-script");
  try {
    const script = parseCtpScript(text, path);
    for (const w of script.warnings) log?.warn(`--ctp-script ${w}`);
    for (const r of script.privateRules)
      log?.warn(`--ctp-script ${ruleLabel(r)}: not applied, private attributes are always removed`);
    if (!script.removePrivateGroups && log)
      log.info(
        `--ctp-script ${path}: privategroups is not enabled, but private attributes are always removed`,
      );
    if (compat === "exact")
      log?.warn(
        "--ctp-compat exact: @hashuid, @hash and every UID are CTP's unsalted MD5 values, open to dictionary attacks (PS3.15 E.1.1)",
      );
    return { script, compat, started: new Date(), integers: new Map() };
  } catch (e) {
    if (e instanceof CtpScriptError) throw new UsageError(`--ctp-script ${e.message}`);
    throw e;
  }
}

/** `--redact FILE`: CTP DicomPixelAnonymizer signatures and regions, checked whole (exit 2 naming the line). */
export function loadRedact(path: string): RedactScript {
  const text = readText(path, "--redact");
  try {
    return parseRedactScript(text, path);
  } catch (e) {
    if (e instanceof RedactScriptError) throw new UsageError(`--redact ${e.message}`);
    throw e;
  }
}

export function anonConfig(a: AnonArgs, keys: Keys, tool: string, log?: CliLogger): AnonConfig {
  const compat = choice(a["ctp-compat"] ?? "safe", "ctp-compat", ["safe", "exact"] as const);
  if (a["ctp-compat"] && !a["ctp-script"])
    throw new UsageError("--ctp-compat needs --ctp-script FILE");
  const ctp = a["ctp-script"] ? loadCtp(a["ctp-script"], compat, log) : undefined;
  const enabled = new Set<OptionColumn>(OPTIONS.filter((o) => a[o.flag]).map((o) => o.column));
  if (
    enabled.has("retain_longitudinal_full_dates") &&
    enabled.has("retain_longitudinal_modified_dates")
  ) {
    throw new UsageError("--retain-full-dates and --retain-modified-dates exclude each other");
  }
  if (
    (a["date-shift"] || a["day-shift-map"]) &&
    !enabled.has("retain_longitudinal_modified_dates")
  ) {
    throw new UsageError(
      `${a["date-shift"] ? "--date-shift" : "--day-shift-map"} needs --retain-modified-dates (without it dates are removed or emptied)`,
    );
  }
  let shift: [number, number] = [-365, 365];
  const inc = ctp?.script.dateIncrement;
  if (inc !== undefined && enabled.has("retain_longitudinal_modified_dates")) {
    // One shift per patient: the script's @incrementdate, for the dates it does not name too.
    if (a["date-shift"] && a["date-shift"] !== `fixed:${inc}`)
      throw new UsageError(
        `--date-shift ${a["date-shift"]}: the CTP script shifts dates by ${inc} days (@incrementdate); give --date-shift fixed:${inc} or leave it out`,
      );
    if (a["day-shift-map"])
      throw new UsageError(
        `--day-shift-map: the CTP script shifts dates by ${inc} days (@incrementdate)`,
      );
    shift = [inc, inc];
  }
  if (a["date-shift"]) {
    try {
      shift = parseShiftRange(a["date-shift"]);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const readPseudonymFrom = a["read-pseudonym-from"]
    ? parsePrivateRef(a["read-pseudonym-from"], "--read-pseudonym-from")
    : undefined;
  const readShiftFrom = a["read-shift-from"]
    ? parsePrivateRef(a["read-shift-from"], "--read-shift-from")
    : undefined;
  if (readPseudonymFrom && a["id-map"])
    throw new UsageError("--read-pseudonym-from and --id-map exclude each other");
  if (readShiftFrom && !enabled.has("retain_longitudinal_modified_dates"))
    throw new UsageError(
      "--read-shift-from needs --retain-modified-dates (without it dates are removed or emptied)",
    );
  if (
    readShiftFrom &&
    (a["day-shift-map"] || a["date-shift"] || ctp?.script.dateIncrement !== undefined)
  )
    throw new UsageError(
      "--read-shift-from excludes --day-shift-map, --date-shift and a CTP @incrementdate",
    );
  if (ctp?.script.usesLookup && !a["id-map"])
    throw new UsageError(
      `--ctp-script ${a["ctp-script"]}: @lookup(...,ptid) needs the lookup table: --id-map FILE.properties`,
    );
  const uidRoot = ctp?.script.uidRoot ?? a["uid-root"];
  if (!/\{(hmac|seq):\d+\}/.test(a["pseudonym-format"]) && !a["id-map"] && !readPseudonymFrom)
    throw new UsageError(
      `--pseudonym-format ${a["pseudonym-format"]}: needs {hmac:N} (N hex digits of the keyed hash) or {seq:N} (the patient's number in the run)`,
    );
  if (!/^[1-9]\d*(\.(0|[1-9]\d*))*$/.test(uidRoot) || uidRoot.length > 24)
    throw new UsageError(`--uid-root ${uidRoot}: not a UID root of at most 24 characters`);
  const burnedIn = choice(a["on-burned-in"], "on-burned-in", [
    "quarantine",
    "skip",
    "warn",
    "fail",
    "redact",
  ] as const) as BurnedInPolicy;
  const cleanPixelData = Boolean(a["clean-pixel-data"]);
  if ((burnedIn === "redact" || cleanPixelData) && !a.redact)
    throw new UsageError(
      `${cleanPixelData ? "--clean-pixel-data" : "--on-burned-in redact"} needs --redact FILE (the regions to blank)`,
    );
  if (a.redact && burnedIn !== "redact" && !cleanPixelData)
    throw new UsageError(
      "--redact FILE needs --on-burned-in redact (redact BurnedInAnnotation YES images) or --clean-pixel-data (every image a signature matches)",
    );
  const idMapKey = choice(a["id-map-key"], "id-map-key", ["patient-id", "dirname"] as const);
  return {
    keys,
    enabled,
    shift,
    pseudonymFormat: a["pseudonym-format"],
    patientName: a["patient-name"],
    uidRoot,
    residual: choice(a["on-residual"], "on-residual", [
      "quarantine",
      "scrub",
      "warn",
    ] as const) as ResidualPolicy,
    residualScan: a["residual-scan"],
    burnedIn,
    redact: a.redact ? loadRedact(a.redact) : undefined,
    cleanPixelData,
    decompress: Boolean(a.decompress),
    dropIdentifiable: Boolean(a["drop-identifiable"]),
    idMap: a["id-map"] ? loadIdMap(a["id-map"]) : undefined,
    idMapKey,
    dayShiftMap: a["day-shift-map"] ? loadDayShiftMap(a["day-shift-map"]) : undefined,
    tool,
    birthdate: choice(a.birthdate ?? "remove", "birthdate", ["shift", "remove"] as const),
    ageCap: ageCap(a["age-cap"]),
    dropRules: a["drop-rules"] ? loadDropRules(a["drop-rules"]) : undefined,
    blankTags: a["blank-tags"] ? loadBlankTags(a["blank-tags"]) : undefined,
    blankVrs: a["blank-vr"] ? parseBlankVrs(a["blank-vr"]) : undefined,
    ctp,
    readPseudonymFrom,
    readShiftFrom,
  };
}
