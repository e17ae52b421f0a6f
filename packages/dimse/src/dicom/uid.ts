/** UID generation and the implementation identity of dicom-pipes. */
import { randomUUID, createHash } from "node:crypto";

/** ISO/IEC 9834-8 UUID-derived OID root (2.25), needs no registration. */
export function newUid(): string {
  const hex = randomUUID().replace(/-/g, "");
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

/** A stable UID derived from a name (for deterministic fixtures). */
export function uidFromName(name: string): string {
  const h = createHash("sha256").update(name).digest("hex").slice(0, 32);
  // Set the UUID version (8, name-based custom) and variant bits.
  const bytes = Buffer.from(h, "hex");
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${bytes.toString("hex")}`).toString()}`;
}

export const IMPLEMENTATION_CLASS_UID = "2.25.155237271237866340447862406914536113413";
export const IMPLEMENTATION_VERSION_NAME = "DICOMPIPES_010";

export const SopClass = {
  Verification: "1.2.840.10008.1.1",
  PatientRootFind: "1.2.840.10008.5.1.4.1.2.1.1",
  PatientRootMove: "1.2.840.10008.5.1.4.1.2.1.2",
  PatientRootGet: "1.2.840.10008.5.1.4.1.2.1.3",
  StudyRootFind: "1.2.840.10008.5.1.4.1.2.2.1",
  StudyRootMove: "1.2.840.10008.5.1.4.1.2.2.2",
  StudyRootGet: "1.2.840.10008.5.1.4.1.2.2.3",
  PatientStudyOnlyFind: "1.2.840.10008.5.1.4.1.2.3.1",
  PatientStudyOnlyMove: "1.2.840.10008.5.1.4.1.2.3.2",
  PatientStudyOnlyGet: "1.2.840.10008.5.1.4.1.2.3.3",
  ModalityWorklistFind: "1.2.840.10008.5.1.4.31",
  /** DCMTK's private SOP class for extracted C-FIND responses (`findscu -X`). */
  DcmtkFindResponse: "1.2.276.0.7230010.3.1.0.1",
} as const;

export type QueryModel = "patient" | "study" | "psonly" | "worklist";

export function findSopClass(model: QueryModel): string {
  switch (model) {
    case "patient":
      return SopClass.PatientRootFind;
    case "study":
      return SopClass.StudyRootFind;
    case "psonly":
      return SopClass.PatientStudyOnlyFind;
    case "worklist":
      return SopClass.ModalityWorklistFind;
  }
}

export function moveSopClass(model: QueryModel): string {
  switch (model) {
    case "patient":
      return SopClass.PatientRootMove;
    case "psonly":
      return SopClass.PatientStudyOnlyMove;
    default:
      return SopClass.StudyRootMove;
  }
}

export function getSopClass(model: QueryModel): string {
  switch (model) {
    case "patient":
      return SopClass.PatientRootGet;
    case "psonly":
      return SopClass.PatientStudyOnlyGet;
    default:
      return SopClass.StudyRootGet;
  }
}
