/**
 * A varied DICOM corpus for the storage tests, built with DCMTK and GDCM
 * command-line tools (and gen-archive for base images) into a temp dir,
 * once per process:
 *
 * - transfer syntaxes: explicit VR LE, implicit VR LE, explicit VR big
 *   endian, deflated, JPEG baseline, JPEG lossless SV1, JPEG 2000 (lossless),
 *   JPEG-LS (lossless), RLE;
 * - a multi-frame instance (uncompressed and RLE, one fragment per frame);
 * - an instance with many private elements (three creators, several VRs,
 *   a private sequence);
 * - Latin-1 (ISO_IR 100) and UTF-8 (ISO_IR 192) names;
 * - sequences: nested four levels deep with undefined lengths (SR), nested
 *   with explicit lengths (RT Structure Set), gen-archive's PET sequence;
 * - SOP classes CT, MR, CR/US/PT (gen-archive), SC, multi-frame SC,
 *   Comprehensive SR, RT Structure Set and a private (unknown) SOP class.
 *
 * Each entry's transfer syntax and UIDs are read back from the file's meta
 * header (not taken from what was asked for). Every SOP Instance UID is
 * unique across the corpus (DCMTK names received files by it).
 *
 * No file carries trailing (FFFC,FFFC) padding (DCMTK drops it when it
 * re-encodes a dataset; none of the tools used here writes it).
 */
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startBin, until, type RunResult } from "./bins.js";
import { metaOf } from "./files.js";
import { findOnPath, freePort, hasDcmtk, tcpProbe } from "./peers.js";

export interface CorpusEntry {
  path: string;
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  label: string;
}

export const TS = {
  ImplicitLE: "1.2.840.10008.1.2",
  ExplicitLE: "1.2.840.10008.1.2.1",
  Deflated: "1.2.840.10008.1.2.1.99",
  ExplicitBE: "1.2.840.10008.1.2.2",
  JpegBaseline: "1.2.840.10008.1.2.4.50",
  JpegLosslessSV1: "1.2.840.10008.1.2.4.70",
  JpegLsLossless: "1.2.840.10008.1.2.4.80",
  J2kLossless: "1.2.840.10008.1.2.4.90",
  Rle: "1.2.840.10008.1.2.5",
} as const;

export const UNCOMPRESSED = new Set<string>([TS.ImplicitLE, TS.ExplicitLE, TS.ExplicitBE]);

/** The private (unknown) SOP class used in the corpus. */
export const PRIVATE_SOP_CLASS = "2.25.314159265358979323846264338327950288";

/** The command-line tools the corpus needs that are not on PATH (DCMTK: dcmtk, GDCM: libgdcm-tools). */
export function corpusToolsMissing(): string[] {
  const need = ["dump2dcm", "dcmconv", "dcmcjpeg", "dcmcrle", "dcmdump", "gdcmconv"];
  return need.filter((b) => findOnPath(b) === undefined);
}

/** Why the corpus tests cannot run here (DCMTK or GDCM missing), or false. */
export function corpusSkip(): string | false {
  if (!hasDcmtk()) return "DCMTK is required (apt-get install dcmtk)";
  const missing = corpusToolsMissing();
  return missing.length
    ? `the corpus needs ${missing.join(", ")} (apt-get install dcmtk libgdcm-tools)`
    : false;
}

function run(bin: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { cwd, maxBuffer: 64 * 1024 * 1024, encoding: "latin1" },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(" ")}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

// ------------------------------------------------------------------ dumps

let uidSeq = 0;
/** Deterministic, unique UIDs under the UUID-derived root 2.25 (PS3.5 B.2). */
function uid(kind: string): string {
  uidSeq++;
  let h = 0x811c9dc5;
  for (const c of `${kind}/${uidSeq}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return `2.25.${BigInt(h) * 1000000000000n + BigInt(uidSeq) * 1000n + 7n}`;
}

/** 8-bit frames: a gradient with a moving block (compresses, and differs per frame). */
function pixels8(rows: number, cols: number, frames = 1): Buffer {
  const b = Buffer.alloc(rows * cols * frames);
  for (let f = 0; f < frames; f++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const inBlock = r >= 4 + f * 4 && r < 12 + f * 4 && c >= 8 && c < 20;
        b[f * rows * cols + r * cols + c] = inBlock
          ? 250
          : (r * 3 + c * 2 + ((r * 7 + c * 13) % 5)) & 0xff;
      }
    }
  }
  return b;
}

/** 16-bit little endian pixels, 12 bits stored. */
function pixels16(rows: number, cols: number): Buffer {
  const b = Buffer.alloc(rows * cols * 2);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      b.writeUInt16LE(((r * 37 + c * 11 + ((r * c) % 17)) * 3) & 0x0fff, (r * cols + c) * 2);
  return b;
}

interface Study {
  study: string;
  series: string;
}

function patientLines(
  name: string,
  id: string,
  s: Study,
  modality: string,
  charset?: string,
): string[] {
  return [
    ...(charset ? [`(0008,0005) CS [${charset}]`] : []),
    `(0008,0020) DA [20240307]`,
    `(0008,0030) TM [101530]`,
    `(0008,0050) SH [CORPUS${id.slice(-2)}]`,
    `(0008,0060) CS [${modality}]`,
    `(0008,0090) PN []`,
    `(0010,0010) PN [${name}]`,
    `(0010,0020) LO [${id}]`,
    `(0010,0030) DA [19700101]`,
    `(0010,0040) CS [O]`,
    `(0020,000d) UI [${s.study}]`,
    `(0020,000e) UI [${s.series}]`,
    `(0020,0010) SH [1]`,
    `(0020,0011) IS [1]`,
    `(0020,0013) IS [1]`,
  ];
}

function imageLines(
  rows: number,
  cols: number,
  bits: 8 | 16,
  pixelFile: string,
  frames?: number,
): string[] {
  return [
    `(0028,0002) US 1`,
    `(0028,0004) CS [MONOCHROME2]`,
    ...(frames ? [`(0028,0008) IS [${frames}]`, `(0028,0009) AT (0018,2002)`] : []),
    `(0028,0010) US ${rows}`,
    `(0028,0011) US ${cols}`,
    `(0028,0100) US ${bits}`,
    `(0028,0101) US ${bits === 8 ? 8 : 12}`,
    `(0028,0102) US ${bits === 8 ? 7 : 11}`,
    `(0028,0103) US 0`,
    `(7fe0,0010) ${bits === 8 ? "OB" : "OW"} =${pixelFile}`,
  ];
}

/** Open a sequence with undefined length as dcmdump prints it (dump2dcm reads the structure; -e/+e decide the encoding). */
function seq(tag: string, items: string[][], depth = 0): string[] {
  const ind = "  ".repeat(depth);
  const out = [`${ind}(${tag}) SQ (Sequence with undefined length #=${items.length})`];
  for (const it of items) {
    out.push(`${ind}  (fffe,e000) na (Item with undefined length #=${it.length})`);
    out.push(...it.map((l) => `${ind}    ${l.trimStart()}`));
    out.push(`${ind}  (fffe,e00d) na (ItemDelimitationItem)`);
  }
  out.push(`${ind}(fffe,e0dd) na (SequenceDelimitationItem)`);
  return out;
}

function code(value: string, scheme: string, meaning: string): string[] {
  return [`(0008,0100) SH [${value}]`, `(0008,0102) SH [${scheme}]`, `(0008,0104) LO [${meaning}]`];
}

// ------------------------------------------------------------------ build

let cache: Promise<CorpusEntry[]> | undefined;
let corpusDir: string | undefined;

/** Build the corpus once per process (a temp dir removed at exit). */
export function buildCorpus(): Promise<CorpusEntry[]> {
  cache ??= build();
  return cache;
}

/** The corpus directory (after buildCorpus()). */
export function corpusRoot(): string {
  if (!corpusDir) throw new Error("buildCorpus() first");
  return corpusDir;
}

async function build(): Promise<CorpusEntry[]> {
  const dir = mkdtempSync(join(tmpdir(), "dicom-pipes-corpus-"));
  corpusDir = dir;
  if (process.env.DICOM_PIPES_KEEP_CORPUS !== "1")
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const work = join(dir, "work");
  const out = join(dir, "files");
  await mkdir(work);
  await mkdir(out);
  const entries: Array<{ label: string; path: string }> = [];
  const add = (label: string, path: string) => entries.push({ label, path });

  // gen-archive: one instance per series, five modalities, three syntaxes.
  const picks: Record<string, { modality: string; charset: string | null; rel: string }[]> = {};
  for (const syntax of ["explicit", "implicit", "big"] as const) {
    const base = join(work, `gen-${syntax}`);
    picks[syntax] = [];
    await generateArchive({
      out: base,
      patients: 6,
      seed: `storage-corpus-${syntax}`,
      studiesPerPatient: 1,
      seriesPerStudy: [1, 3],
      instancesPerSeries: 1,
      transferSyntax: syntax,
      layout: "flat",
      onInstance: (_n, inst) =>
        picks[syntax]!.push({
          modality: inst.modality,
          charset: inst.specificCharacterSet,
          rel: join(base, ...inst.relPath.split("/")),
        }),
    });
  }
  const gen = (
    syntax: "explicit" | "implicit" | "big",
    pred: (p: { modality: string; charset: string | null }) => boolean,
    why: string,
  ) => {
    const p = picks[syntax]!.find(pred);
    if (!p) throw new Error(`corpus: gen-archive gave no ${why} instance in ${syntax}`);
    return p.rel;
  };
  const copy = async (label: string, src: string) => {
    const dst = join(out, `${label}.dcm`);
    await copyFile(src, dst);
    add(label, dst);
  };
  await copy(
    "explicit-le-ct",
    gen("explicit", (p) => p.modality === "CT", "CT"),
  );
  await copy(
    "explicit-le-latin1-gen",
    gen("explicit", (p) => p.charset === "ISO_IR 100", "ISO_IR 100"),
  );
  await copy(
    "explicit-le-pt-sequence",
    gen("explicit", (p) => p.modality === "PT", "PT"),
  );
  await copy(
    "implicit-le-mr",
    gen("implicit", (p) => p.modality === "MR", "MR"),
  );
  await copy(
    "implicit-le-us",
    gen("implicit", (p) => p.modality === "US", "US"),
  );
  await copy(
    "big-endian-cr",
    gen("big", (p) => p.modality === "CR", "CR"),
  );
  await copy(
    "big-endian-ct",
    gen("big", (p) => p.modality === "CT", "CT"),
  );

  // A larger instance (512 x 512 x 16 bit, several PDUs).
  {
    const base = join(work, "gen-large");
    let rel = "";
    await generateArchive({
      out: base,
      patients: 1,
      seed: "storage-corpus-large",
      studiesPerPatient: 1,
      seriesPerStudy: 1,
      instancesPerSeries: 1,
      rows: 512,
      cols: 512,
      layout: "flat",
      onInstance: (_n, i) => (rel = join(base, ...i.relPath.split("/"))),
    });
    await copy("explicit-le-large", rel);
  }

  // Pixel data files for dump2dcm.
  await writeFile(join(work, "sc8.raw"), pixels8(64, 64));
  await writeFile(join(work, "mf8.raw"), pixels8(32, 32, 4));
  await writeFile(join(work, "ct16.raw"), pixels16(64, 64));
  const dump = async (name: string, lines: string[], encoding: BufferEncoding, args: string[]) => {
    const txt = join(work, `${name}.txt`);
    await writeFile(txt, Buffer.from(`${lines.join("\n")}\n`, encoding));
    const dst = join(work, `${name}.dcm`);
    await run("dump2dcm", [...args, txt, dst], work);
    return dst;
  };
  const studyA: Study = { study: uid("study"), series: uid("series") };
  const studyB: Study = { study: uid("study"), series: uid("series") };

  // Secondary Capture, Latin-1 name (bytes written as ISO 8859-1).
  const scLatin1 = await dump(
    "sc-latin1",
    [
      `(0008,0016) UI =SecondaryCaptureImageStorage`,
      `(0008,0018) UI [${uid("sop")}]`,
      `(0008,0064) CS [WSD]`,
      ...patientLines("Müller-Lüdenscheidt^Zoë^François", "CORPUS01", studyA, "OT", "ISO_IR 100"),
      `(0008,1030) LO [Ärztliche Übersicht – façade]`.replace("–", "-"),
      ...imageLines(64, 64, 8, "sc8.raw"),
    ],
    "latin1",
    ["+te"],
  );
  await copy("explicit-le-sc-latin1", scLatin1);

  // Secondary Capture, UTF-8 names (Greek, CJK, accents), undefined-length sequence.
  const scUtf8 = await dump(
    "sc-utf8",
    [
      `(0008,0016) UI =SecondaryCaptureImageStorage`,
      `(0008,0018) UI [${uid("sop")}]`,
      `(0008,0064) CS [WSD]`,
      ...patientLines(
        "Ωμέγα^Jürgen=山田^太郎=やまだ^たろう",
        "CORPUS02",
        studyA,
        "OT",
        "ISO_IR 192",
      ),
      `(0008,1030) LO [Études – 研究]`,
      ...seq("0008,1032", [code("RPID16", "RADLEX", "Tête – 頭部")]),
      ...imageLines(64, 64, 8, "sc8.raw"),
    ],
    "utf8",
    ["+te", "-e"],
  );
  await copy("explicit-le-sc-utf8", scUtf8);

  // Comprehensive SR: content tree four levels deep, all sequences and items with undefined length.
  const num = (value: string, meaning: string) => [
    `(0040,a010) CS [CONTAINS]`,
    `(0040,a040) CS [NUM]`,
    ...seq("0040,a043", [code("G-D705", "SRT", meaning)]),
    ...seq("0040,a300", [
      [`(0040,a30a) DS [${value}]`, ...seq("0040,08ea", [code("mm", "UCUM", "millimeter")])],
    ]),
  ];
  const srLines = [
    `(0008,0016) UI =ComprehensiveSRStorage`,
    `(0008,0018) UI [${uid("sop")}]`,
    ...patientLines("Niño^José", "CORPUS03", studyB, "SR", "ISO_IR 192"),
    `(0040,a040) CS [CONTAINER]`,
    ...seq("0040,a043", [code("126000", "DCM", "Imaging Measurement Report")]),
    `(0040,a050) CS [SEPARATE]`,
    `(0040,a491) CS [COMPLETE]`,
    `(0040,a493) CS [UNVERIFIED]`,
    ...seq("0040,a730", [
      [
        `(0040,a010) CS [CONTAINS]`,
        `(0040,a040) CS [TEXT]`,
        ...seq("0040,a043", [code("121071", "DCM", "Finding")]),
        `(0040,a160) UT [Läsion im Segment VII – ≈ 12 mm, no change.]`,
      ],
      [
        `(0040,a010) CS [CONTAINS]`,
        `(0040,a040) CS [CONTAINER]`,
        ...seq("0040,a043", [code("125007", "DCM", "Measurement Group")]),
        `(0040,a050) CS [SEPARATE]`,
        ...seq("0040,a730", [
          num("12.5", "Diameter"),
          num("-3.25e+01", "Offset"),
          [
            `(0040,a010) CS [CONTAINS]`,
            `(0040,a040) CS [CONTAINER]`,
            `(0040,a050) CS [CONTINUOUS]`,
            ...seq("0040,a730", [num("0.001", "Depth")]),
          ],
        ]),
      ],
    ]),
  ];
  await copy("explicit-le-sr-nested-undefined", await dump("sr", srLines, "utf8", ["+te", "-e"]));

  // RT Structure Set: nested sequences with explicit lengths.
  const frame = uid("frame");
  const contour = (n: number) => [
    `(3006,0042) CS [CLOSED_PLANAR]`,
    `(3006,0046) IS [4]`,
    `(3006,0050) DS [${[0, 0, n, 10, 0, n, 10, 10, n, 0, 10.5, n].join("\\")}]`,
  ];
  const rtLines = [
    `(0008,0016) UI =RTStructureSetStorage`,
    `(0008,0018) UI [${uid("sop")}]`,
    ...patientLines("Doe^Jane", "CORPUS04", studyB, "RTSTRUCT"),
    `(3006,0002) SH [CORPUS RS]`,
    `(3006,0008) DA [20240307]`,
    `(3006,0009) TM [101530]`,
    ...seq("3006,0010", [
      [
        `(0020,0052) UI [${frame}]`,
        ...seq("3006,0012", [
          [
            `(0008,1150) UI =RETIRED_StudyComponentManagementSOPClass`,
            `(0008,1155) UI [${studyB.study}]`,
            ...seq("3006,0014", [
              [
                `(0020,000e) UI [${studyB.series}]`,
                ...seq("3006,0016", [
                  [`(0008,1150) UI =CTImageStorage`, `(0008,1155) UI [${uid("ref")}]`],
                  [`(0008,1150) UI =CTImageStorage`, `(0008,1155) UI [${uid("ref")}]`],
                ]),
              ],
            ]),
          ],
        ]),
      ],
    ]),
    ...seq("3006,0020", [
      [
        `(3006,0022) IS [1]`,
        `(3006,0024) UI [${frame}]`,
        `(3006,0026) LO [GTV]`,
        `(3006,0036) CS [MANUAL]`,
      ],
      [
        `(3006,0022) IS [2]`,
        `(3006,0024) UI [${frame}]`,
        `(3006,0026) LO [PTV ø5mm]`,
        `(3006,0036) CS [MANUAL]`,
      ],
    ]),
    ...seq("3006,0039", [
      [
        `(3006,002a) IS [255\\0\\0]`,
        ...seq("3006,0040", [contour(-10), contour(-5), contour(0)]),
        `(3006,0084) IS [1]`,
      ],
      [`(3006,002a) IS [0\\255\\0]`, ...seq("3006,0040", [contour(2.5)]), `(3006,0084) IS [2]`],
    ]),
    ...seq("3006,0080", [
      [`(3006,0082) IS [1]`, `(3006,0084) IS [1]`, `(3006,00a4) CS [GTV]`, `(3006,00a6) PN []`],
    ]),
    `(300e,0002) CS [UNAPPROVED]`,
  ];
  await copy("explicit-le-rtstruct", await dump("rtstruct", rtLines, "latin1", ["+te", "+e"]));

  // A private (unknown) SOP class, implicit VR.
  const privLines = [
    `(0008,0016) UI [${PRIVATE_SOP_CLASS}]`,
    `(0008,0018) UI [${uid("sop")}]`,
    ...patientLines("Private^Class", "CORPUS05", studyB, "OT"),
    `(0029,0010) LO [ACME PRIVATE BLOB]`,
    `(0029,1001) OB =sc8.raw`,
  ];
  await copy(
    "implicit-le-private-sop-class",
    await dump("private-sop", privLines, "latin1", ["+ti"]),
  );

  // Many private elements: three creators, 300 elements, several VRs and a private sequence.
  const priv: string[] = [];
  const creators = ["SIEMENS CSA HEADER", "GEMS_ACQU_01", "ACME 1.1"];
  const groups = ["0019", "0029", "0043"];
  groups.forEach((g, gi) => {
    priv.push(`(${g},0010) LO [${creators[gi]}]`);
    for (let i = 0; i < 100; i++) {
      const el = `10${i.toString(16).padStart(2, "0")}`;
      const k = (i + gi) % 8;
      if (k === 0) priv.push(`(${g},${el}) LO [value ${gi}-${i}]`);
      else if (k === 1) priv.push(`(${g},${el}) SH [S${i}]`);
      else if (k === 2) priv.push(`(${g},${el}) UL ${1000000 + i * 7919}`);
      else if (k === 3) priv.push(`(${g},${el}) US ${i}\\${65535 - i}`);
      else if (k === 4) priv.push(`(${g},${el}) DS [${(i * 1.25).toFixed(2)}\\-${i}.5]`);
      else if (k === 5) priv.push(`(${g},${el}) FD ${i * Math.PI}`);
      else if (k === 6)
        priv.push(
          `(${g},${el}) OB ${Array.from({ length: 6 + (i % 3) }, (_, j) => ((i * 31 + j) & 0xff).toString(16).padStart(2, "0")).join("\\")}`,
        );
      else
        priv.push(
          ...seq(`${g},${el}`, [
            [`(${g},0010) LO [${creators[gi]}]`, `(${g},1001) LO [nested ${i}]`],
          ]),
        );
    }
  });
  const manyPriv = [
    `(0008,0016) UI =CTImageStorage`,
    `(0008,0018) UI [${uid("sop")}]`,
    `(0008,0008) CS [ORIGINAL\\PRIMARY\\AXIAL]`,
    ...patientLines("Private^Many", "CORPUS06", studyA, "CT"),
    ...priv,
    `(0018,0050) DS [1.25]`,
    `(0020,0032) DS [-100\\-100\\0]`,
    `(0020,0037) DS [1\\0\\0\\0\\1\\0]`,
    `(0028,0030) DS [0.5\\0.5]`,
    `(0028,1052) DS [-1024]`,
    `(0028,1053) DS [1]`,
    ...imageLines(64, 64, 16, "ct16.raw"),
  ];
  const manyPrivFile = await dump("many-private", manyPriv, "latin1", ["+te", "-e"]);
  await copy("explicit-le-many-private", manyPrivFile);

  // Multi-frame grayscale byte SC, four frames.
  const mfLines = [
    `(0008,0016) UI =MultiframeGrayscaleByteSecondaryCaptureImageStorage`,
    `(0008,0018) UI [${uid("sop")}]`,
    `(0008,0064) CS [WSD]`,
    ...patientLines("Frames^Four", "CORPUS07", studyA, "OT"),
    `(0018,2002) SH [frame]`,
    ...imageLines(32, 32, 8, "mf8.raw", 4),
  ];
  const mf = await dump("multiframe", mfLines, "latin1", ["+te"]);
  await copy("explicit-le-multiframe", mf);

  // A 16-bit CT base (own UIDs) for the lossless codecs.
  const ctBase = async (name: string) =>
    dump(
      name,
      [
        `(0008,0016) UI =CTImageStorage`,
        `(0008,0018) UI [${uid("sop")}]`,
        `(0008,0008) CS [ORIGINAL\\PRIMARY\\AXIAL]`,
        ...patientLines("Codec^Base", "CORPUS08", studyA, "CT"),
        `(0028,1052) DS [-1024]`,
        `(0028,1053) DS [1]`,
        ...imageLines(64, 64, 16, "ct16.raw"),
      ],
      "latin1",
      ["+te"],
    );
  const mrBase = async (name: string) =>
    dump(
      name,
      [
        `(0008,0016) UI =MRImageStorage`,
        `(0008,0018) UI [${uid("sop")}]`,
        `(0008,0008) CS [ORIGINAL\\PRIMARY\\M]`,
        ...patientLines("Codec^Base", "CORPUS08", studyA, "MR"),
        `(0018,0087) DS [1.5]`,
        ...imageLines(64, 64, 16, "ct16.raw"),
      ],
      "latin1",
      ["+te"],
    );
  const scBase = async (name: string) =>
    dump(
      name,
      [
        `(0008,0016) UI =SecondaryCaptureImageStorage`,
        `(0008,0018) UI [${uid("sop")}]`,
        `(0008,0064) CS [WSD]`,
        ...patientLines("Codec^Base", "CORPUS08", studyA, "OT"),
        ...imageLines(64, 64, 8, "sc8.raw"),
      ],
      "latin1",
      ["+te"],
    );

  /** `<label>.dcm` in the output, written by a converter (`bin args src dst`). */
  const convert = async (label: string, bin: string, args: string[], src: string) => {
    const dst = join(out, `${label}.dcm`);
    await run(bin, [...args, src, dst]);
    add(label, dst);
  };
  // Deflated explicit VR little endian (DCMTK).
  await convert("deflated-ct", "dcmconv", ["+td"], await ctBase("deflate-base"));
  // JPEG baseline (process 1, lossy, 8 bit; dcmcjpeg assigns a new SOP Instance UID).
  await convert("jpeg-baseline-sc", "dcmcjpeg", ["+eb"], await scBase("jpeg-baseline-base"));
  // JPEG lossless, first-order prediction (process 14 SV1).
  await convert("jpeg-lossless-ct", "dcmcjpeg", ["+e1"], await ctBase("jpeg-lossless-base"));
  // JPEG 2000 lossless (GDCM).
  await convert("j2k-ct", "gdcmconv", ["--j2k"], await ctBase("j2k-base"));
  // JPEG-LS lossless (GDCM).
  await convert("jpegls-mr", "gdcmconv", ["--jpegls"], await mrBase("jpegls-base"));
  // RLE lossless, multi-frame: one fragment per frame (DCMTK).
  await convert("rle-multiframe", "dcmcrle", ["+ua"], mf);
  // RLE lossless, 16-bit CT.
  await convert("rle-ct", "dcmcrle", [], await ctBase("rle-base"));

  const result: CorpusEntry[] = entries.map((e) => {
    const m = metaOf(e.path);
    return {
      path: e.path,
      label: e.label,
      transferSyntax: m.transferSyntax,
      sopClassUid: m.sopClassUid,
      sopInstanceUid: m.sopInstanceUid,
    };
  });
  const seen = new Set<string>();
  for (const e of result) {
    if (seen.has(e.sopInstanceUid))
      throw new Error(`corpus: duplicate SOP Instance UID ${e.sopInstanceUid} (${e.label})`);
    seen.add(e.sopInstanceUid);
  }
  return result;
}

// ------------------------------------------------------------------ helpers for the storage tests

/**
 * A DCMTK storescu association profile (`-xf FILE Default`) proposing each
 * (SOP class, transfer syntax) pair of `entries` as its own presentation
 * context, so storescu sends every file unconverted, private SOP classes
 * included. Returns the storescu arguments.
 */
export async function storescuProfile(
  entries: Array<{ sopClassUid: string; transferSyntax: string }>,
  file: string,
): Promise<string[]> {
  const syntaxes = [...new Set(entries.map((e) => e.transferSyntax))];
  const pairs = [
    ...new Set(entries.map((e) => `${e.sopClassUid}\\TS${syntaxes.indexOf(e.transferSyntax)}`)),
  ];
  if (pairs.length > 128) throw new Error("storescuProfile: more than 128 presentation contexts");
  const lines = [
    "[[TransferSyntaxes]]",
    ...syntaxes.flatMap((ts, i) => [`[TS${i}]`, `TransferSyntax1 = ${ts}`]),
    "[[PresentationContexts]]",
    "[Contexts]",
    ...pairs.map((p, i) => `PresentationContext${i + 1} = ${p}`),
    "[[Profiles]]",
    "[Default]",
    "PresentationContexts = Contexts",
    "",
  ];
  await writeFile(file, lines.join("\n"));
  return ["-xf", file, "Default"];
}

export interface ScpTs {
  port: number;
  /** The storescp-ts process id. */
  pid: number;
  od: string;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<RunResult>;
  /** Send a signal (default SIGTERM) and wait for the exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<RunResult>;
}

const liveScps = new Set<ChildProcess>();
let scpExitHook = false;

/**
 * Whether something listens on `port`. Read from /proc/net/tcp{,6} where
 * available, so no connection is made (a connection that closes before its
 * A-ASSOCIATE-RQ is itself an event for the server); else a TCP connect.
 */
export async function isListening(port: number): Promise<boolean> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let procSeen = false;
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await readFile(f, "latin1");
    } catch {
      continue;
    }
    procSeen = true;
    // "  sl  local_address rem_address   st ..." with st 0A = LISTEN
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === "0A") return true;
    }
  }
  if (procSeen) return false;
  return tcpProbe(port);
}

/**
 * Start the built storescp-ts (`node bin/storescp-ts.js ARGS -od OD PORT`) on a
 * free port; ready once the port accepts connections. Retries on another
 * port when the chosen one was taken meanwhile (exit 60).
 */
export async function startStorescpTs(
  args: string[],
  o: { od: string; cwd?: string; env?: Record<string, string> },
): Promise<ScpTs> {
  if (!scpExitHook) {
    scpExitHook = true;
    process.once("exit", () => {
      for (const c of liveScps) c.kill("SIGKILL");
    });
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const p = startBin("storescp-ts", [...args, "-od", o.od, String(port)], {
      cwd: o.cwd,
      env: o.env,
    });
    const { child, done: exited } = p;
    liveScps.add(child);
    let gone = false;
    void exited.then(() => {
      gone = true;
      liveScps.delete(child);
    });
    const ready = (await until(async () => gone || (await isListening(port)), 15000, 25)) && !gone;
    if (!ready) {
      child.kill("SIGKILL");
      const r = await exited;
      if (r.code === 60 && attempt < 3) continue;
      throw new Error(
        `storescp-ts did not start (exit ${r.code}, signal ${r.signal}):\n${r.stderr}`,
      );
    }
    return {
      port,
      pid: child.pid!,
      od: o.od,
      stdout: p.out,
      stderr: p.err,
      exited,
      async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 20000) {
        if (!gone) child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      },
    };
  }
}
