/** dcmanon: keyed, standard, verifiable DICOM de-identification (PS3.15 Annex E). */
import { availableParallelism } from "node:os";
import { readFile } from "node:fs/promises";
import { processIo, RecordWriter, type Io } from "@dicom-pipes/dimse/io";
import {
  checkOutputFolder,
  Exit,
  ExitError,
  packageVersion,
  runTool,
  tuneJit,
  UsageError,
} from "@dicom-pipes/dimse/cli";
import { parseYargs, toolYargs, yargsLogLevel } from "@dicom-pipes/dimse/yargs";

/** The exit statuses dcmanon returns. */
const EXITS = [Exit.OK, Exit.FAILURE, Exit.USAGE, Exit.PARTIAL, Exit.OUTPUT_DIR];
import { lookupTag, tagDcmtk } from "@dicom-pipes/dimse/dicom";
import { anonymize } from "./anon.js";
import { anonConfig, loadKeys, type AnonArgs } from "./config.js";
import { Layout as PathTemplate } from "@dicom-pipes/dimse/records";
import { folderKey, readNdjson, runAnon, type Layout, type MapFormat } from "./run.js";
import { E1_1_EDITION, OPTIONS, tableRows } from "./table.js";

export { processIo };

const TOOL = "dcmanon";
const P = "De-identification (PS3.15 Annex E):";
const K = "Identities:";
const O = "Output:";
const S = "Safety:";

function parser(version: string) {
  const retain = Object.fromEntries(
    OPTIONS.map((o) => [
      o.flag,
      { type: "boolean" as const, describe: `${o.meaning} (${o.code})`, group: P },
    ]),
  );
  return toolYargs(TOOL, version, {
    title: "de-identify DICOM files (PS3.15 Basic Profile)",
    sources: [`PS3.15 ${E1_1_EDITION} Table E.1-1`],
    streams:
      'Reads files, folders, or paths / NDJSON records with "path" on stdin (-); writes one NDJSON result per input on stdout; logs on stderr.',
    exits: EXITS,
  })
    .usage(
      `${TOOL} [options] INPUT... -o DIR\n${TOOL} table | lookup --map-in MAP (--pseudonym P | --uid U) | explain FILE\n\n` +
        "De-identify DICOM files with PS3.15 Table E.1-1 (edition " +
        E1_1_EDITION +
        ") at every sequence depth:\n" +
        "private attributes and unknown elements removed, UIDs, pseudonyms and day shifts keyed by\n" +
        "HMAC-SHA256 with your secret (same key and options: the same output bytes), markers written,\n" +
        "file meta rebuilt, pixel data copied undecoded in the input's transfer syntax. Each output\n" +
        "is searched for every identifying value of its input before it is written (temporary file\n" +
        "+ rename); inputs are never modified. INPUT: files, folders (recursive), '-' = paths or\n" +
        'NDJSON records with "path" on stdin. One NDJSON result per input on stdout.',
    )
    .options({
      "output-dir": {
        alias: "o",
        type: "string",
        describe: "where de-identified files go",
        group: O,
      },
      layout: {
        choices: ["hierarchy", "mirror", "bids", "template"] as const,
        default: "hierarchy",
        describe:
          "hierarchy: PSEUDONYM/STUDY/SERIES/SOP.dcm (de-identified names); mirror: the input's relative paths (names not de-identified); bids: sub-PSEUDONYM/ses-DATE/SERIES/SOP.dcm; template: --template",
        group: O,
      },
      template: {
        type: "string",
        describe:
          "--layout template: path from de-identified values, e.g. '{PatientID}/{StudyDate}/{SeriesNumber:05}/{SOPInstanceUID}.dcm' ({Keyword}, {Keyword:05}, {Keyword|alnum}, {Keyword=default}, {prefix})",
        group: O,
      },
      "keep-dir-names": {
        type: "boolean",
        describe: "bids: keep the input's series folder names (sub-*/ses-*/SERIES/…)",
        group: O,
      },
      "in-place": {
        type: "boolean",
        describe: "replace each input by its de-identified version (atomically)",
        group: O,
      },
      jobs: {
        alias: "j",
        type: "number",
        default: Math.min(4, availableParallelism()),
        describe:
          "worker threads de-identifying files at once (default: the cores, at most 4); 1: all in the main thread",
        group: O,
      },
      "map-out": {
        type: "string",
        describe: "re-identification map (NDJSON, mode 0600): patients, UIDs, files",
        group: O,
      },
      "map-format": {
        choices: ["ndjson", "pacsifier"] as const,
        default: "ndjson",
        describe:
          "pacsifier: --map-out is a folder receiving PACSIFIER's new_ids.json and day_shift.json (keyed as --id-map-key) beside map.ndjson",
        group: O,
      },
      "audit-log": {
        type: "string",
        describe: "audit log without identifying data (NDJSON)",
        group: O,
      },
      "path-field": {
        type: "string",
        default: "path",
        describe: "field of stdin NDJSON records holding the file path",
        group: O,
      },
      fsync: {
        type: "boolean",
        describe:
          "outputs durable when reported: fsynced a batch at a time, renamed, their folders fsynced once (slower)",
        group: O,
      },
      decompress: {
        type: "boolean",
        describe:
          "write compressed files (JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE, deflated) decoded, in explicit VR little endian; a file that cannot be decoded is an error (nothing written)",
        group: O,
      },
      "non-dicom": {
        choices: ["skip", "error"] as const,
        default: "skip",
        describe: "files that are not DICOM: reported skipped, or as errors",
        group: O,
      },
      "fail-on-quarantine": {
        type: "boolean",
        describe: "exit 3 when a file is skipped or quarantined",
        group: O,
      },
      "secret-file": {
        type: "string",
        describe: "file holding the secret key (≥ 32 bytes)",
        group: K,
      },
      "secret-env": {
        type: "string",
        describe: "environment variable holding the secret key (≥ 32 bytes)",
        group: K,
      },
      "pseudonym-format": {
        type: "string",
        default: "P{hmac:10}",
        describe: "pseudonym of a patient: {hmac:N} = N hex digits of HMAC(key, issuer|PatientID)",
        group: K,
      },
      "patient-name": {
        type: "string",
        default: "{pid}",
        describe: "PatientName written ({pid} = pseudonym), e.g. '{pid}^sub'",
        group: K,
      },
      "uid-root": { type: "string", default: "2.25", describe: "root of new UIDs", group: K },
      "id-map": {
        type: "string",
        describe:
          "JSON {key: pseudonym} (PACSIFIER new_ids.json) or CTP lookup table (.properties, ptid/ORIG = NEW); unmapped patients are quarantined",
        group: K,
      },
      "id-map-key": {
        type: "string",
        default: "patient-id",
        describe:
          "key of --id-map and --day-shift-map: patient-id or dirname (the sub-XXXX folder)",
        group: K,
      },
      "read-pseudonym-from": {
        type: "string",
        describe:
          "the pseudonym is the value of this input element, e.g. '(000B,\"CHUV_DEV_TML\",01)' (Karnak tags); a file without it is quarantined",
        group: K,
      },
      "read-shift-from": {
        type: "string",
        describe:
          "the day shift is the value of this input element, e.g. '(000B,\"CHUV_DEV_TML\",03)'; needs --retain-modified-dates",
        group: K,
      },
      "day-shift-map": {
        type: "string",
        describe: "JSON {key: days} (PACSIFIER day_shift.json); needs --retain-modified-dates",
        group: K,
      },
      "date-shift": {
        type: "string",
        describe: "day-shift range A:B per patient, never 0 (default -365:365), or fixed:N",
        group: K,
      },
      ...retain,
      birthdate: {
        choices: ["shift", "remove"] as const,
        describe:
          "PatientBirthDate with --retain-modified-dates: shifted like the other dates, or emptied (default, the table's Z)",
        group: P,
      },
      "age-cap": {
        type: "number",
        describe:
          "with --retain-patient-characteristics: ages above N years written as N+1 (89 → 090Y)",
        group: P,
      },
      "ctp-script": {
        type: "string",
        describe:
          "CTP DicomAnonymizer script (<script> XML): its element rules replace Table E.1-1 for the elements they name (see README)",
        group: P,
      },
      "ctp-compat": {
        choices: ["safe", "exact"] as const,
        describe:
          "safe (default): @hashuid/@hash keyed by the secret; exact: CTP's unsalted MD5 values for @hashuid, @hash and every UID",
        group: P,
      },
      "drop-rules": {
        type: "string",
        describe:
          'MID anon_imgs.json: skip files whose attribute contains a string ({"SeriesDescription": ["report"]}, case-insensitive)',
        group: S,
      },
      "blank-tags": {
        type: "string",
        describe:
          "MID anon_tags.json: attributes emptied on top of the profile (a list of keywords, or grouped by VR)",
        group: P,
      },
      "blank-vr": {
        type: "string",
        describe:
          "MID anon_vrs.json as a list (DT,DA,TM,UI,PN,SQ): every element of these VRs emptied, UIDs remapped consistently",
        group: P,
      },
      "drop-identifiable": {
        type: "boolean",
        describe: "skip SCREEN SAVE, secondary CT, SR, dose reports and BurnedInAnnotation YES",
        group: S,
      },
      "on-burned-in": {
        type: "string",
        default: "quarantine",
        describe:
          "BurnedInAnnotation YES: quarantine, skip, warn, fail, or redact (the regions of the first --redact signature it matches; none: quarantined)",
        group: S,
      },
      redact: {
        type: "string",
        describe:
          "CTP DicomPixelAnonymizer script: { signature } (x,y,w,h)… regions blanked in the images it matches (uncompressed pixels; compressed ones with --decompress)",
        group: S,
      },
      "clean-pixel-data": {
        type: "boolean",
        describe:
          "Clean Pixel Data Option (113101): redact every image a --redact signature matches, remove icons; BurnedInAnnotation NO and 113101 on the images redacted",
        group: P,
      },
      "residual-scan": {
        type: "boolean",
        default: true,
        describe: "search each output for identifying input values (--no-residual-scan to disable)",
        group: S,
      },
      "on-residual": {
        type: "string",
        default: "quarantine",
        describe: "a residual identifier found: quarantine (no output), scrub (replace it) or warn",
        group: S,
      },
      "map-in": {
        type: "string",
        describe: "lookup: the --map-out file to read",
        group: "lookup:",
      },
      pseudonym: {
        type: "string",
        describe: "lookup: the patient behind a pseudonym",
        group: "lookup:",
      },
      uid: { type: "string", describe: "lookup: the original of a new UID", group: "lookup:" },
    })
    .example(
      `${TOOL} --secret-file key --retain-modified-dates --date-shift -365:-30 -o anon in/ > results.ndjson`,
      "a folder, dates shifted per patient",
    )
    .example(
      `movescu-ts … --emit files | ${TOOL} --secret-file key -o anon - | jq -r 'select(.status=="ok").out' | storescu-ts … -`,
      "retrieve, de-identify, forward",
    )
    .example(
      `${TOOL} --secret-file key --id-map new_ids.json --id-map-key dirname --day-shift-map day_shift.json --retain-modified-dates --layout bids --patient-name '{pid}^sub' -o out data/`,
      "PACSIFIER's maps and layout",
    )
    .example(`${TOOL} table | head`, "the rules (PS3.15 Table E.1-1)");
}

async function printTable(io: Io): Promise<number> {
  const w = new RecordWriter(io.stdout);
  for (const [tag, name, basic, options, retired, iod] of tableRows()) {
    if (!w.ok) break;
    await w.write({
      tag,
      name,
      basic_profile: basic,
      options,
      retired,
      in_standard_iod: iod,
      keyword: tagKeyword(tag),
    });
  }
  await w.end();
  return Exit.OK;
}

function tagKeyword(tag: string): string | null {
  const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/.exec(tag);
  return m
    ? (lookupTag(((parseInt(m[1]!, 16) << 16) | parseInt(m[2]!, 16)) >>> 0)?.keyword ?? null)
    : null;
}

async function lookup(
  args: { "map-in"?: string; pseudonym?: string; uid?: string },
  io: Io,
): Promise<number> {
  if (!args["map-in"]) throw new UsageError("lookup needs --map-in MAP.ndjson");
  if (!args.pseudonym === !args.uid) throw new UsageError("lookup needs --pseudonym P or --uid U");
  const w = new RecordWriter(io.stdout);
  let found = 0;
  for await (const rec of readNdjson(args["map-in"])) {
    const hit = args.pseudonym
      ? rec.kind === "patient" && rec.pseudonym === args.pseudonym
      : rec.kind === "uid" && rec.new === args.uid;
    if (hit) {
      found++;
      await w.write(rec);
    }
  }
  await w.end();
  if (!found)
    throw new ExitError(
      Exit.FAILURE,
      `${args.pseudonym ? `pseudonym ${args.pseudonym}` : `UID ${args.uid}`} is not in ${args["map-in"]}`,
    );
  return Exit.OK;
}

/** `--date-shift -365:-30`: yargs would read a value starting with '-' as options; join it as `--date-shift=…`. */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === "--date-shift" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export async function main(argv: string[], io: Io): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const version = packageVersion(import.meta.url);
    const { args, done } = await parseYargs(parser(version), joinNegativeValues(argv), io);
    if (done) return Exit.OK;
    log.level = yargsLogLevel(args);
    const positionals = args._.map(String);
    const a = args as unknown as AnonArgs & Record<string, unknown>;
    const tool = `dcmanon ${version}`;
    switch (positionals[0]) {
      case "table":
        return printTable(io);
      case "lookup":
        return lookup(args, io);
      case "explain": {
        if (positionals.length !== 2) throw new UsageError("explain takes one FILE");
        const file = positionals[1]!;
        const cfg = anonConfig(a, loadKeys(a, io.env ?? {}, log), tool, log);
        const w = new RecordWriter(io.stdout);
        const lines: Array<Record<string, string | null>> = [];
        const r = anonymize(
          await readFile(file),
          { folderKey: folderKey(file) },
          cfg,
          (path, tag, vr, action) =>
            lines.push({
              element: `${path}${tagDcmtk(tag)}`,
              keyword: lookupTag(tag)?.keyword ?? null,
              vr,
              action,
            }),
        );
        for (const l of lines) await w.write(l);
        await w.write(
          r.status === "ok"
            ? { file, status: "ok", actions: r.actions, options: r.options, warnings: r.warnings }
            : { file, status: r.status, reason: r.reason },
        );
        await w.end();
        return Exit.OK;
      }
    }
    if (!positionals.length) {
      if (io.stdin.isTTY)
        throw new UsageError("no INPUT: give files, folders, or '-' to read paths from stdin");
      positionals.push("-");
    }
    const inPlace = Boolean(args["in-place"]);
    if (inPlace === Boolean(args["output-dir"]))
      throw new UsageError(
        inPlace ? "--in-place and -o exclude each other" : "give -o DIR (or --in-place)",
      );
    const jobs = Number(args.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
      throw new UsageError(`-j ${String(args.jobs)}: expected a whole number from 1 to 64`);
    if (args["output-dir"]) checkOutputFolder(String(args["output-dir"]));
    if ((args.layout === "template") !== (args.template !== undefined))
      throw new UsageError(
        args.template !== undefined
          ? "--template needs --layout template"
          : "--layout template needs --template PATTERN",
      );
    let template: PathTemplate | undefined;
    try {
      template = args.template !== undefined ? new PathTemplate(String(args.template)) : undefined;
    } catch (e) {
      throw new UsageError(`--template ${String(args.template)}: ${(e as Error).message}`);
    }
    if (args["map-format"] === "pacsifier" && !args["map-out"])
      throw new UsageError("--map-format pacsifier needs --map-out FOLDER");
    const anon = anonConfig(a, loadKeys(a, io.env ?? {}, log), tool, log);
    // Thousands of files in a second or two: V8's optimising compiler otherwise spends more
    // processor time on dcmanon's code (0.7 s for 1000 files) than the run spends in it (0.15 s).
    tuneJit(4, { inlining: 200 });
    return runAnon(
      {
        anon,
        outDir: args["output-dir"],
        inPlace,
        layout: args.layout as Layout,
        keepDirNames: Boolean(args["keep-dir-names"]),
        template,
        jobs,
        mapOut: args["map-out"],
        mapFormat: args["map-format"] as MapFormat,
        auditLog: args["audit-log"],
        pathField: args["path-field"],
        failOnQuarantine: Boolean(args["fail-on-quarantine"]),
        nonDicom: args["non-dicom"] as "skip" | "error",
        fsync: Boolean(args.fsync),
        decompress: Boolean(args.decompress),
        version,
        edition: E1_1_EDITION,
        source: {
          args: a,
          tool,
          template: args.template !== undefined ? String(args.template) : undefined,
        },
      },
      positionals,
      io,
      log,
    );
  });
}
