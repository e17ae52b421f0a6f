/**
 * What an SCU proposes, in DCMTK's order: the uncompressed transfer
 * syntaxes of `-x=`/`-xe`/`-xb`/`-xd`/`-xi` (DCMTK's
 * `--propose-uncompr` and friends: explicit VR little endian first on a
 * little-endian machine), and the storage contexts a C-GET offers for the
 * objects coming back (SCP role).
 */
import { TransferSyntax } from "../dicom/syntax.js";
import { storageSopClasses, uidKeyword } from "../dicom/uid-table.js";
import type { ContextProposal } from "../net/client.js";

/** `-x=` (default) and `-xe`, `-xb`, `-xd`, `-xi`. */
export type UncompressedProposal = "little" | "big" | "deflated" | "implicit";

/** The transfer syntaxes proposed for each context, in order of preference. */
export function proposedSyntaxes(p: UncompressedProposal | undefined = "little"): string[] {
  const {
    ExplicitVRLittleEndian: LE,
    ExplicitVRBigEndian: BE,
    ImplicitVRLittleEndian: IM,
    DeflatedExplicitVRLittleEndian: DF,
  } = TransferSyntax;
  switch (p) {
    case "implicit":
      return [IM];
    case "big":
      return [BE, LE, IM];
    case "deflated":
      return [DF, LE, BE, IM];
    default:
      return [LE, BE, IM];
  }
}

/** Storage classes proposed first for C-GET: the common ones. */
const COMMON_STORAGE = [
  "CTImageStorage",
  "EnhancedCTImageStorage",
  "MRImageStorage",
  "EnhancedMRImageStorage",
  "ComputedRadiographyImageStorage",
  "DigitalXRayImageStorageForPresentation",
  "DigitalXRayImageStorageForProcessing",
  "DigitalMammographyXRayImageStorageForPresentation",
  "DigitalMammographyXRayImageStorageForProcessing",
  "UltrasoundImageStorage",
  "UltrasoundMultiFrameImageStorage",
  "NuclearMedicineImageStorage",
  "PositronEmissionTomographyImageStorage",
  "SecondaryCaptureImageStorage",
  "XRayAngiographicImageStorage",
  "XRayRadiofluoroscopicImageStorage",
  "RTImageStorage",
  "RTDoseStorage",
  "RTStructureSetStorage",
  "RTPlanStorage",
  "BasicTextSRStorage",
  "EnhancedSRStorage",
  "ComprehensiveSRStorage",
  "KeyObjectSelectionDocumentStorage",
  "GrayscaleSoftcopyPresentationStateStorage",
  "SegmentationStorage",
  "EncapsulatedPDFStorage",
];

/** Storage contexts for C-GET (SCP role): the common classes first, at most 127 (one context is the retrieve model's). */
export function getStorageContexts(
  syntaxes: string[] = proposedSyntaxes(),
  max = 127,
): ContextProposal[] {
  const classes = storageSopClasses();
  const byKeyword = new Map(classes.map((u) => [uidKeyword(u) ?? u, u]));
  const first = COMMON_STORAGE.map((k) => byKeyword.get(k)).filter((u): u is string => Boolean(u));
  return [...new Set([...first, ...classes])].slice(0, max).map((u) => ({
    abstractSyntax: u,
    transferSyntaxes: syntaxes,
    role: { scu: false, scp: true },
  }));
}
