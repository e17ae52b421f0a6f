/**
 * `dcmdir create` and `dcmdir add`: copy DICOM files into a folder with
 * PS3.10 file IDs and write its DICOMDIR. Files are copied byte for byte
 * (temporary name, then a hard link that fails rather than replace an
 * existing file); the DICOMDIR is written to a temporary file and renamed.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, link, mkdir, open, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import {
  NotDicomError,
  readPart10Header,
  TransferSyntax,
  newUid,
  type Part10Header,
} from "@dicom-pipes/dimse/dicom";
import { mapPool, walkFiles } from "@dicom-pipes/dimse/io";
import type { CliLogger } from "@dicom-pipes/dimse/cli";
import {
  encodeDicomdir,
  fileIdProblem,
  MEDIA_STORAGE_DIRECTORY,
  readDicomdir,
  referencedFileId,
  type Dicomdir,
  type DirRecord,
} from "./dicomdir.js";
import { childFor, fileKeys, KeyTags, recordsForFile, type FileKeys } from "./records.js";

/** One line of the create/add report (stdout). */
export interface PlaceResult {
  action: "copied" | "present" | "indexed" | "skipped" | "failed";
  from: string;
  path?: string;
  error?: string;
  SOPInstanceUID?: string;
}

export interface CreateOptions {
  out: string;
  inputs: string[];
  /** Rewrite an existing DICOMDIR (create) instead of refusing. */
  force?: boolean;
  /** Append to the DICOMDIR in `out` (add). */
  append?: boolean;
  fileSetId?: string;
  log: CliLogger;
  signal?: AbortSignal;
  report: (r: PlaceResult) => Promise<void>;
}

export interface CreateSummary {
  files: number;
  placed: number;
  failed: number;
  skipped: number;
  invented: Map<string, number>;
  notGeneralPurpose: number;
}

const STOP_BEFORE_PIXELS = 0x7fe00010;

/** 8-character name: a letter for the level and 7 hex digits of a hash of the key (stable across runs). */
function hashedName(letter: string, key: string, attempt: number): string {
  const h = createHash("sha1").update(`${key}\0${attempt}`).digest("hex").slice(0, 7).toUpperCase();
  return letter + h;
}

/** Names taken in each folder of the output, by key, so two keys never share a name. */
class Namer {
  private byFolder = new Map<string, Map<string, string>>();
  name(folder: string, letter: string, key: string): string {
    let names = this.byFolder.get(folder);
    if (!names) this.byFolder.set(folder, (names = new Map()));
    for (let attempt = 0; ; attempt++) {
      const n = hashedName(letter, key, attempt);
      const owner = names.get(n);
      if (owner === undefined) {
        names.set(n, key);
        return n;
      }
      if (owner === key) return n;
    }
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  const [ba, bb] = await Promise.all([readFile(a), readFile(b)]);
  return ba.equals(bb);
}

/** Copy `from` to `to` without ever replacing an existing file; "present" when `to` already holds the same bytes. */
async function placeFile(from: string, to: string): Promise<"copied" | "present"> {
  await mkdir(dirname(to), { recursive: true });
  const tmp = join(dirname(to), `.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  await copyFile(from, tmp, constants.COPYFILE_EXCL);
  try {
    const fh = await open(tmp, "r+");
    await fh.sync().finally(() => fh.close());
    await link(tmp, to);
    return "copied";
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    if (await sameBytes(from, to)) return "present";
    throw new Error(`${to} exists with other content; not overwritten`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function inside(child: string, parent: string): boolean {
  const r = relative(parent, child);
  return r === "" || (!r.startsWith("..") && !r.startsWith(sep) && r !== "..");
}

interface Candidate {
  from: string;
  header: Part10Header;
  keys: FileKeys;
}

/** Files of the inputs with their headers; non-DICOM files and DICOMDIRs are reported and skipped. */
async function* candidates(o: CreateOptions, summary: CreateSummary): AsyncGenerator<Candidate> {
  const walked = walkFiles(o.inputs, { onError: (p, e) => o.log.error(`${p}: ${e.message}`) });
  type Read =
    | { from: string; header: Part10Header; error?: undefined }
    | { from: string; header?: undefined; error: Error };
  const read = mapPool(walked, 4, async ({ path: from }): Promise<Read> => {
    try {
      return { from, header: await readPart10Header(from, STOP_BEFORE_PIXELS) };
    } catch (e) {
      return { from, error: e as Error };
    }
  });
  for await (const r of read) {
    if (o.signal?.aborted) break;
    summary.files++;
    if (r.error) {
      summary.skipped++;
      const notDicom = r.error instanceof NotDicomError;
      if (notDicom) o.log.warn(`${r.from}: skipped, ${r.error.message}`);
      else o.log.error(`${r.from}: ${r.error.message}`);
      await o.report({ action: "skipped", from: r.from, error: r.error.message });
      continue;
    }
    if (r.header.sopClassUID === MEDIA_STORAGE_DIRECTORY) {
      summary.skipped++;
      o.log.info(`${r.from}: a DICOMDIR, skipped`);
      await o.report({ action: "skipped", from: r.from, error: "a DICOMDIR" });
      continue;
    }
    const keys = fileKeys(r.header);
    if (typeof keys === "string") {
      summary.failed++;
      o.log.error(`${r.from}: cannot be placed: ${keys}`);
      await o.report({ action: "failed", from: r.from, error: `cannot be placed: ${keys}` });
      continue;
    }
    yield { from: r.from, header: r.header, keys };
  }
}

/** SOP Instance UIDs already referenced, with their file IDs. */
function referenced(roots: DirRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visit = (rs: DirRecord[]) => {
    for (const r of rs) {
      const id = referencedFileId(r);
      const uid = r.ds.string(0x00041511);
      if (id.length && uid) out.set(uid, id);
      visit(r.children);
    }
  };
  visit(roots);
  return out;
}

/**
 * Build or extend the file-set in `o.out`. When the only input is `o.out`
 * itself, files already there are referenced in place (their paths must
 * be valid file IDs) and only the DICOMDIR is written.
 */
export async function createFileSet(o: CreateOptions): Promise<CreateSummary> {
  const out = resolve(o.out);
  const dicomdirPath = join(out, "DICOMDIR");
  const summary: CreateSummary = {
    files: 0,
    placed: 0,
    failed: 0,
    skipped: 0,
    invented: new Map(),
    notGeneralPurpose: 0,
  };
  const existing = await stat(dicomdirPath).catch(() => undefined);
  let dir: Dicomdir;
  if (o.append) {
    dir = await readDicomdir(dicomdirPath);
  } else {
    if (existing && !o.force)
      throw new Error(
        `${dicomdirPath} exists; use 'dcmdir add' to extend it or --force to rewrite it`,
      );
    dir = { fileSetId: o.fileSetId ?? "", roots: [], sopInstanceUID: newUid() };
  }
  if (o.fileSetId !== undefined) dir.fileSetId = o.fileSetId;
  await mkdir(out, { recursive: true });
  const known = referenced(dir.roots);
  const namer = new Namer();
  const inPlace = (from: string) => inside(resolve(from), out);
  for await (const c of candidates(o, summary)) {
    const { keys, header } = c;
    const prior = known.get(keys.sopInstanceUID);
    let fileId: string[];
    let action: PlaceResult["action"];
    let dest: string;
    try {
      if (inPlace(c.from)) {
        fileId = relative(out, resolve(c.from)).split(sep);
        const problem = fileIdProblem(fileId);
        if (problem)
          throw new Error(
            `inside the output folder but not a valid file ID (${problem}); move it out or rename it`,
          );
        dest = resolve(c.from);
        action = "indexed";
      } else {
        const p = namer.name(out, "P", keys.patientID);
        const s = namer.name(join(out, p), "S", keys.studyInstanceUID);
        const e = namer.name(join(out, p, s), "E", keys.seriesInstanceUID);
        const i = namer.name(join(out, p, s, e), "I", keys.sopInstanceUID);
        fileId = [p, s, e, i];
        dest = join(out, ...fileId);
        action = await placeFile(c.from, dest);
      }
      if (prior) {
        if (prior.join("/") === fileId.join("/")) {
          summary.placed++;
          await o.report({
            action: action === "indexed" ? "indexed" : "present",
            from: c.from,
            path: dest,
            SOPInstanceUID: keys.sopInstanceUID,
          });
          continue;
        }
        throw new Error(
          `SOP Instance UID ${keys.sopInstanceUID} is already in the file-set as ${prior.join("\\")}`,
        );
      }
    } catch (err) {
      summary.failed++;
      const msg = (err as Error).message;
      o.log.error(`${c.from}: ${msg}`);
      await o.report({
        action: "failed",
        from: c.from,
        error: msg,
        SOPInstanceUID: keys.sopInstanceUID,
      });
      continue;
    }
    known.set(keys.sopInstanceUID, fileId);
    if (keys.transferSyntax !== TransferSyntax.ExplicitVRLittleEndian) summary.notGeneralPurpose++;
    const inv = { keys: [] as string[] };
    const recs = recordsForFile(header, fileId, inv);
    for (const k of inv.keys) summary.invented.set(k, (summary.invented.get(k) ?? 0) + 1);
    const patient = childFor(
      dir.roots,
      KeyTags.PatientID,
      recs.patient.string(KeyTags.PatientID) ?? "",
      recs.patient,
      fileId,
    );
    const study = childFor(
      patient.children,
      KeyTags.StudyInstanceUID,
      keys.studyInstanceUID,
      recs.study,
      fileId,
    );
    const series = childFor(
      study.children,
      KeyTags.SeriesInstanceUID,
      keys.seriesInstanceUID,
      recs.series,
      fileId,
    );
    series.children.push({ ds: recs.instance, children: [] });
    summary.placed++;
    await o.report({ action, from: c.from, path: dest, SOPInstanceUID: keys.sopInstanceUID });
  }
  if (o.signal?.aborted) return summary;
  sortTree(dir.roots);
  const bytes = encodeDicomdir(dir);
  const tmp = join(out, `.DICOMDIR.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, "wx");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dicomdirPath);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return summary;
}

const num = (r: DirRecord, tag: number) => Number(r.ds.string(tag) ?? "") || 0;
const str = (r: DirRecord, tag: number) => r.ds.string(tag) ?? "";

/** Stable order: patients by ID, studies by date and time, series and instances by number. */
function sortTree(patients: DirRecord[]): void {
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  patients.sort((a, b) => cmp(str(a, KeyTags.PatientID), str(b, KeyTags.PatientID)));
  for (const p of patients) {
    p.children.sort(
      (a, b) =>
        cmp(
          str(a, KeyTags.StudyDate) + str(a, KeyTags.StudyTime),
          str(b, KeyTags.StudyDate) + str(b, KeyTags.StudyTime),
        ) || cmp(str(a, KeyTags.StudyInstanceUID), str(b, KeyTags.StudyInstanceUID)),
    );
    for (const s of p.children) {
      s.children.sort(
        (a, b) =>
          cmp(num(a, KeyTags.SeriesNumber), num(b, KeyTags.SeriesNumber)) ||
          cmp(str(a, KeyTags.SeriesInstanceUID), str(b, KeyTags.SeriesInstanceUID)),
      );
      for (const e of s.children)
        e.children.sort(
          (a, b) =>
            cmp(num(a, KeyTags.InstanceNumber), num(b, KeyTags.InstanceNumber)) ||
            cmp(str(a, 0x00041511), str(b, 0x00041511)),
        );
    }
  }
}
