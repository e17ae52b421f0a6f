/** Transfer syntaxes and their encoding properties. */

export const TransferSyntax = {
  ImplicitVRLittleEndian: "1.2.840.10008.1.2",
  ExplicitVRLittleEndian: "1.2.840.10008.1.2.1",
  DeflatedExplicitVRLittleEndian: "1.2.840.10008.1.2.1.99",
  ExplicitVRBigEndian: "1.2.840.10008.1.2.2",
  JPEGBaseline: "1.2.840.10008.1.2.4.50",
  JPEGExtended: "1.2.840.10008.1.2.4.51",
  JPEGLossless: "1.2.840.10008.1.2.4.57",
  JPEGLosslessSV1: "1.2.840.10008.1.2.4.70",
  JPEGLSLossless: "1.2.840.10008.1.2.4.80",
  JPEGLSNearLossless: "1.2.840.10008.1.2.4.81",
  JPEG2000Lossless: "1.2.840.10008.1.2.4.90",
  JPEG2000: "1.2.840.10008.1.2.4.91",
  HTJ2KLossless: "1.2.840.10008.1.2.4.201",
  HTJ2KLosslessRPCL: "1.2.840.10008.1.2.4.202",
  HTJ2K: "1.2.840.10008.1.2.4.203",
  RLELossless: "1.2.840.10008.1.2.5",
} as const;

export interface SyntaxInfo {
  uid: string;
  explicit: boolean;
  little: boolean;
  deflated: boolean;
  /** Pixel data is encapsulated (compressed). */
  encapsulated: boolean;
}

const NAMES: Record<string, string> = {
  "1.2.840.10008.1.2": "Little Endian Implicit",
  "1.2.840.10008.1.2.1": "Little Endian Explicit",
  "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
  "1.2.840.10008.1.2.2": "Big Endian Explicit",
  "1.2.840.10008.1.2.4.50": "JPEG Baseline",
  "1.2.840.10008.1.2.4.51": "JPEG Extended, Process 2+4",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless, Non-hierarchical, Process 14",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless, Non-hierarchical, 1st Order Prediction",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS Lossy (Near-lossless)",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 (Lossless only)",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.5": "RLE Lossless",
};

/** DCMTK's name of a transfer syntax, as printed in dumps and logs. */
export function syntaxName(uid: string): string {
  return NAMES[uid] ?? uid;
}

export function syntaxInfo(uid: string): SyntaxInfo {
  switch (uid) {
    case TransferSyntax.ImplicitVRLittleEndian:
      return { uid, explicit: false, little: true, deflated: false, encapsulated: false };
    case TransferSyntax.ExplicitVRLittleEndian:
      return { uid, explicit: true, little: true, deflated: false, encapsulated: false };
    case TransferSyntax.DeflatedExplicitVRLittleEndian:
      return { uid, explicit: true, little: true, deflated: true, encapsulated: false };
    case TransferSyntax.ExplicitVRBigEndian:
      return { uid, explicit: true, little: false, deflated: false, encapsulated: false };
    default:
      // Every other standard syntax is explicit little endian with encapsulated pixel data.
      return { uid, explicit: true, little: true, deflated: false, encapsulated: true };
  }
}

export const UNCOMPRESSED_SYNTAXES: readonly string[] = [
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
];

export function isUncompressed(uid: string): boolean {
  return UNCOMPRESSED_SYNTAXES.includes(uid);
}
