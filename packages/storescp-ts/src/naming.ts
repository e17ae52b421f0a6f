/**
 * DCMTK storescp's file names and sort folders: `<prefix>.<SOPInstanceUID>`,
 * `+uf`, `-tn`, `-fe`, and the `-su`, `-ss`, `-sp` subdirectories.
 */
import { join } from "node:path";
import {
  dcmtkPrefix,
  DCMTK_UNKNOWN_PREFIX,
  newUid,
  Tags,
  type Dataset,
} from "@dicom-pipes/dimse/dicom";
import { sanitizeComponent } from "@dicom-pipes/dimse/records";

export type Naming = "default" | "unique" | "time";
export type Sort = { kind: "study" | "conc"; prefix: string } | { kind: "patient" } | undefined;

export function modalityPrefix(sopClassUid: string): string {
  return dcmtkPrefix(sopClassUid) ?? DCMTK_UNKNOWN_PREFIX;
}

function two(n: number): string {
  return String(n).padStart(2, "0");
}

/** `YYYYMMDD_HHMMSSmmm` (DCMTK's sort-folder time stamp, local time). */
function folderStamp(d: Date): string {
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}_${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** `YYYYMMDDHHMMSSmmm` (DCMTK's --timenames). */
function timeStamp(d: Date): string {
  return folderStamp(d).replace("_", "");
}

const TRANSLITERATION: Record<string, string> = {
  Ä: "Ae",
  Ö: "Oe",
  Ü: "Ue",
  ä: "ae",
  ö: "oe",
  ü: "ue",
  ß: "ss",
  Æ: "AE",
  æ: "ae",
  Ø: "O",
  ø: "o",
  Å: "A",
  å: "a",
};

/**
 * Patient name reduced to ASCII for a folder name, as storescp -sp does:
 * German umlauts and ß transliterated, other accents dropped, and every
 * other character but letters and digits becoming `_`.
 */
function patientFolderName(name: string | undefined): string {
  const t = (name ?? "")
    .trim()
    .replace(
      /[\u00c4\u00d6\u00dc\u00e4\u00f6\u00fc\u00df\u00c6\u00e6\u00d8\u00f8\u00c5\u00e5]/g,
      (c) => TRANSLITERATION[c] ?? c,
    )
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9]/g, "_");
  return t === "" || /^_+$/.test(t) ? "ANONYMOUS" : sanitizeComponent(t);
}

export class Namer {
  private lastStamp = "";
  private serial = 0;
  private study?: { uid: string; folder: string };

  constructor(private readonly o: { naming: Naming; extension: string; sort: Sort }) {}

  /** The sort subdirectory (relative) for an object, updating per-study state. */
  folder(head: Dataset, studyUid: string, now: Date): string {
    const s = this.o.sort;
    if (!s) return "";
    if (s.kind === "study")
      return sanitizeComponent(s.prefix === "" ? studyUid : `${s.prefix}_${studyUid}`);
    if (!this.study || this.study.uid !== studyUid) {
      const base =
        s.kind === "conc"
          ? s.prefix === ""
            ? folderStamp(now)
            : `${s.prefix}_${folderStamp(now)}`
          : `${patientFolderName(head.string(Tags.PatientName))}_${folderStamp(now)}`;
      this.study = { uid: studyUid, folder: sanitizeComponent(base) };
    }
    return this.study.folder;
  }

  fileName(sopClassUid: string, sopInstanceUid: string, now: Date): string {
    const prefix = modalityPrefix(sopClassUid);
    const ext = this.o.extension;
    switch (this.o.naming) {
      case "unique":
        return `${prefix}.X.${newUid()}${ext}`;
      case "time": {
        const stamp = timeStamp(now);
        if (stamp === this.lastStamp) this.serial++;
        else {
          this.lastStamp = stamp;
          this.serial = 0;
        }
        return `${stamp}${this.serial ? `_${String(this.serial).padStart(4, "0")}` : ""}.${prefix}${ext}`;
      }
      default:
        return sanitizeComponent(`${prefix}.${sopInstanceUid}${ext}`);
    }
  }

  path(
    root: string,
    head: Dataset,
    sopClassUid: string,
    sopInstanceUid: string,
    studyUid: string,
    now = new Date(),
  ): string {
    return join(
      root,
      this.folder(head, studyUid, now),
      this.fileName(sopClassUid, sopInstanceUid, now),
    );
  }
}
