/** The vocabulary of the synthetic archive: names, institutions, devices, study and series protocols. */

export type ModalityCode = "CT" | "MR" | "CR" | "US" | "PT";

export const MODALITIES: readonly ModalityCode[] = ["CT", "MR", "CR", "US", "PT"];

/** Storage SOP classes (PS3.4 Annex B). */
export const STORAGE_SOP_CLASS: Record<ModalityCode, string> = {
  CT: "1.2.840.10008.5.1.4.1.1.2",
  MR: "1.2.840.10008.5.1.4.1.1.4",
  CR: "1.2.840.10008.5.1.4.1.1.1",
  US: "1.2.840.10008.5.1.4.1.1.6.1",
  PT: "1.2.840.10008.5.1.4.1.1.128",
};

/** Share of studies per modality (after each patient's first study, which cycles through all five). */
export const MODALITY_WEIGHTS: Record<ModalityCode, number> = {
  CR: 35,
  CT: 25,
  MR: 15,
  US: 15,
  PT: 10,
};

// ------------------------------------------------------------------ people

export type Sex = "M" | "F" | "O";

export const FAMILY_NAMES = [
  "Smith",
  "Johnson",
  "Williams",
  "Brown",
  "Jones",
  "Miller",
  "Davis",
  "Wilson",
  "Anderson",
  "Taylor",
  "Thomas",
  "Moore",
  "Martin",
  "Jackson",
  "Thompson",
  "White",
  "Harris",
  "Clark",
  "Lewis",
  "Walker",
  "Hall",
  "Young",
  "King",
  "Wright",
  "Scott",
  "Green",
  "Baker",
  "Adams",
  "Nelson",
  "Carter",
  "Schmidt",
  "Fischer",
  "Weber",
  "Wagner",
  "Becker",
  "Hoffmann",
  "Rossi",
  "Bianchi",
  "Dubois",
  "Moreau",
  "Jansen",
  "de Vries",
  "Nielsen",
  "Larsen",
  "Novak",
  "Kowalski",
  "O'Brien",
  "Murphy",
  "Kelly",
  "Nguyen",
];

export const GIVEN_NAMES: Record<"M" | "F", string[]> = {
  M: [
    "John",
    "Michael",
    "David",
    "James",
    "Robert",
    "Daniel",
    "Paul",
    "Mark",
    "Thomas",
    "Peter",
    "Stefan",
    "Luca",
    "Pierre",
    "Jan",
    "Lars",
    "Sean",
    "Minh",
  ],
  F: [
    "Mary",
    "Anna",
    "Laura",
    "Sarah",
    "Emma",
    "Julia",
    "Claire",
    "Sophie",
    "Linda",
    "Maria",
    "Katrin",
    "Giulia",
    "Camille",
    "Ingrid",
    "Eva",
    "Siobhan",
    "Lan",
  ],
};

export interface FixedName {
  name: string;
  sex: "M" | "F";
}

/** Names representable in ISO 8859-1 (written with ISO_IR 100). */
export const LATIN1_NAMES: readonly FixedName[] = [
  { name: "Müller^Jörg", sex: "M" },
  { name: "Lefèvre^Zoë", sex: "F" },
  { name: "Øvergård^Åse", sex: "F" },
  { name: "Núñez García^Íñigo", sex: "M" },
  { name: "Strauß^Bärbel", sex: "F" },
  { name: "Gonçalves^João", sex: "M" },
];

/** Names outside ISO 8859-1 (written with ISO_IR 192, UTF-8). */
export const UTF8_NAMES: readonly FixedName[] = [
  { name: "Yamada^Tarou=山田^太郎=やまだ^たろう", sex: "M" },
  { name: "Papadopoulou^Eleni=Παπαδοπούλου^Ελένη", sex: "F" },
  { name: "Wałęsa^Łukasz", sex: "M" },
  { name: "Κωνσταντίνου^Δημήτρης", sex: "M" },
  { name: "Ковалёва^Ольга", sex: "F" },
  { name: "佐藤^花子", sex: "F" },
];

export const REFERRING_PHYSICIANS = [
  "Meyer^Thomas^^Dr.",
  "Okafor^Chidi",
  "Lindqvist^Karin^^Dr.",
  "Patel^Anjali",
  "Rossi^Marco^^Dr.",
  "Hughes^Fiona",
  "Brennan^Liam^^Dr.",
  "Tanaka^Kenji",
  "Fournier^Isabelle",
  "",
  "",
];

// ------------------------------------------------------------ institutions

export interface Institution {
  /** Canonical spelling. */
  name: string;
  /** Deliberate variants of the same name (case and whitespace only). */
  variants: string[];
  /** Relative share of patients that call it home. */
  weight: number;
  /** Short code for station names. */
  code: string;
}

export const INSTITUTIONS: readonly Institution[] = [
  {
    name: "Riverside Medical Center",
    variants: ["RIVERSIDE MEDICAL CENTER", "Riverside  Medical Center", "riverside medical center"],
    weight: 30,
    code: "RMC",
  },
  {
    name: "St. Mary's General Hospital",
    variants: ["ST. MARY'S GENERAL HOSPITAL", "St. Mary's General  Hospital"],
    weight: 20,
    code: "SMGH",
  },
  {
    name: "Universitätsklinikum Nordheide",
    variants: ["UNIVERSITÄTSKLINIKUM NORDHEIDE"],
    weight: 15,
    code: "UKN",
  },
  {
    name: "Lakeside Imaging Center",
    variants: ["LAKESIDE IMAGING CENTER", "Lakeside Imaging  Center"],
    weight: 12,
    code: "LIC",
  },
  { name: "Northgate Community Hospital", variants: [], weight: 9, code: "NCH" },
  { name: "Hôpital Sainte-Élise", variants: [], weight: 7, code: "HSE" },
  {
    name: "Mercy Children's Hospital",
    variants: ["MERCY CHILDREN'S HOSPITAL"],
    weight: 5,
    code: "MCH",
  },
  { name: "Kantonsspital Seeland", variants: [], weight: 2, code: "KSS" },
];

export interface DeviceModel {
  manufacturer: string;
  model: string;
  /** MR field strength (T). */
  field?: string;
}

export const DEVICE_MODELS: Record<ModalityCode, readonly DeviceModel[]> = {
  CT: [
    { manufacturer: "SIEMENS", model: "SOMATOM Definition AS+" },
    { manufacturer: "GE MEDICAL SYSTEMS", model: "Revolution CT" },
    { manufacturer: "Philips", model: "iCT 256" },
    { manufacturer: "TOSHIBA", model: "Aquilion ONE" },
  ],
  MR: [
    { manufacturer: "SIEMENS", model: "MAGNETOM Skyra", field: "3" },
    { manufacturer: "GE MEDICAL SYSTEMS", model: "SIGNA Artist", field: "1.5" },
    { manufacturer: "Philips Medical Systems", model: "Ingenia", field: "1.5" },
  ],
  CR: [
    { manufacturer: "Carestream Health", model: "DRX-Evolution" },
    { manufacturer: "FUJIFILM Corporation", model: "FCR PROFECT CS" },
    { manufacturer: "Agfa", model: "CR 85-X" },
  ],
  US: [
    { manufacturer: "GE Healthcare", model: "LOGIQ E10" },
    { manufacturer: "Philips Medical Systems", model: "EPIQ 7G" },
    { manufacturer: "SIEMENS", model: "ACUSON Sequoia" },
  ],
  PT: [
    { manufacturer: "SIEMENS", model: "Biograph mCT" },
    { manufacturer: "GE MEDICAL SYSTEMS", model: "Discovery MI" },
  ],
};

// -------------------------------------------------------------- protocols

export interface MrParams {
  scanningSequence: string;
  sequenceVariant: string;
  acquisitionType: "2D" | "3D";
  tr: string;
  te: string;
}

export interface SeriesDef {
  description: string;
  /** Overrides the study's modality (the CT of a PET/CT). */
  modality?: ModalityCode;
  imageType: string[];
  localizer?: boolean;
  sliceThickness?: string;
  viewPosition?: string;
  mr?: MrParams;
}

export interface StudyDef {
  modality: ModalityCode;
  description: string;
  bodyPart: string;
  protocol: string;
  /** Field of view (mm) across the image width. */
  fov: number;
  /** Relative share among the modality's studies. */
  weight: number;
  series: SeriesDef[];
}

const ORIG = ["ORIGINAL", "PRIMARY", "AXIAL"];
const LOC = ["ORIGINAL", "PRIMARY", "LOCALIZER"];
const MPR = ["DERIVED", "SECONDARY", "MPR"];
const MRI = ["ORIGINAL", "PRIMARY", "M", "ND"];
const XR = ["ORIGINAL", "PRIMARY"];

const mr = (
  scanningSequence: string,
  sequenceVariant: string,
  acquisitionType: "2D" | "3D",
  tr: string,
  te: string,
): MrParams => ({ scanningSequence, sequenceVariant, acquisitionType, tr, te });

export const STUDIES: readonly StudyDef[] = [
  // CT
  {
    modality: "CT",
    description: "CT HEAD W/O CONTRAST",
    bodyPart: "HEAD",
    protocol: "Head Routine",
    fov: 250,
    weight: 4,
    series: [
      {
        description: "Topogram  0.6  T20f",
        imageType: LOC,
        localizer: true,
        sliceThickness: "0.6",
      },
      { description: "Head  5.0  H30s", imageType: ORIG, sliceThickness: "5" },
      { description: "Head  2.0  J40s", imageType: ORIG, sliceThickness: "2" },
      { description: "Head Bone  2.0  H70h", imageType: ORIG, sliceThickness: "2" },
      { description: "Head COR MPR 3.0", imageType: MPR, sliceThickness: "3" },
    ],
  },
  {
    modality: "CT",
    description: "CT CHEST W CONTRAST",
    bodyPart: "CHEST",
    protocol: "Thorax Contrast",
    fov: 350,
    weight: 3,
    series: [
      {
        description: "Topogram  0.6  T20f",
        imageType: LOC,
        localizer: true,
        sliceThickness: "0.6",
      },
      { description: "Thorax  1.0  B70f", imageType: ORIG, sliceThickness: "1" },
      { description: "Thorax  5.0  B31f", imageType: ORIG, sliceThickness: "5" },
      {
        description: "Lung MIP 10.0",
        imageType: ["DERIVED", "SECONDARY", "MIP"],
        sliceThickness: "10",
      },
    ],
  },
  {
    modality: "CT",
    description: "CT ABDOMEN PELVIS W CONTRAST",
    bodyPart: "ABDOMEN",
    protocol: "Abdomen Portal Venous",
    fov: 400,
    weight: 3,
    series: [
      { description: "Scout", imageType: LOC, localizer: true, sliceThickness: "1.25" },
      { description: "Abd/Pel 5.0 PV", imageType: ORIG, sliceThickness: "5" },
      { description: "Abd/Pel 1.25 PV", imageType: ORIG, sliceThickness: "1.25" },
      { description: "COR Abd/Pel 3.0", imageType: MPR, sliceThickness: "3" },
      { description: "SAG Abd/Pel 3.0", imageType: MPR, sliceThickness: "3" },
    ],
  },
  {
    modality: "CT",
    description: "CTA PULMONARY ARTERIES",
    bodyPart: "CHEST",
    protocol: "CTA PE",
    fov: 360,
    weight: 1,
    series: [
      {
        description: "Topogram  0.6  T20f",
        imageType: LOC,
        localizer: true,
        sliceThickness: "0.6",
      },
      { description: "CTA PE  1.0  I26f", imageType: ORIG, sliceThickness: "1" },
      {
        description: "CTA PE MIP 8.0",
        imageType: ["DERIVED", "SECONDARY", "MIP"],
        sliceThickness: "8",
      },
    ],
  },
  // MR
  {
    modality: "MR",
    description: "MR BRAIN W/O CONTRAST",
    bodyPart: "HEAD",
    protocol: "Brain Routine",
    fov: 230,
    weight: 4,
    series: [
      {
        description: "localizer",
        imageType: MRI,
        localizer: true,
        sliceThickness: "8",
        mr: mr("GR", "SP", "2D", "8.6", "4"),
      },
      {
        description: "t1_mprage_sag_p2_iso",
        imageType: MRI,
        sliceThickness: "1",
        mr: mr("GR\\IR", "SK\\SP\\MP", "3D", "2300", "2.98"),
      },
      {
        description: "t2_tse_tra_p2",
        imageType: MRI,
        sliceThickness: "4",
        mr: mr("SE", "SK\\SP\\OSP", "2D", "6000", "95"),
      },
      {
        description: "t2_tirm_tra_dark-fluid",
        imageType: MRI,
        sliceThickness: "4",
        mr: mr("SE\\IR", "SK\\SP\\MP", "2D", "9000", "81"),
      },
      {
        description: "ep2d_diff_tra_b1000",
        imageType: ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"],
        sliceThickness: "5",
        mr: mr("EP", "SK\\SP", "2D", "5200", "78"),
      },
      {
        description: "t1_se_tra",
        imageType: MRI,
        sliceThickness: "5",
        mr: mr("SE", "SK\\SP", "2D", "550", "8.9"),
      },
    ],
  },
  {
    modality: "MR",
    description: "MR KNEE LEFT W/O CONTRAST",
    bodyPart: "KNEE",
    protocol: "Knee",
    fov: 160,
    weight: 2,
    series: [
      {
        description: "localizer",
        imageType: MRI,
        localizer: true,
        sliceThickness: "6",
        mr: mr("GR", "SP", "2D", "8.6", "4"),
      },
      {
        description: "pd_tse_fs_cor",
        imageType: MRI,
        sliceThickness: "3",
        mr: mr("SE", "SK\\SP\\OSP", "2D", "3500", "33"),
      },
      {
        description: "pd_tse_fs_sag",
        imageType: MRI,
        sliceThickness: "3",
        mr: mr("SE", "SK\\SP\\OSP", "2D", "3200", "30"),
      },
      {
        description: "t1_tse_cor",
        imageType: MRI,
        sliceThickness: "3",
        mr: mr("SE", "SK\\SP", "2D", "650", "12"),
      },
      {
        description: "pd_tse_fs_tra",
        imageType: MRI,
        sliceThickness: "3.5",
        mr: mr("SE", "SK\\SP\\OSP", "2D", "3800", "34"),
      },
    ],
  },
  {
    modality: "MR",
    description: "MR LUMBAR SPINE W/O CONTRAST",
    bodyPart: "LSPINE",
    protocol: "L-Spine",
    fov: 300,
    weight: 2,
    series: [
      {
        description: "localizer",
        imageType: MRI,
        localizer: true,
        sliceThickness: "7",
        mr: mr("GR", "SP", "2D", "8.6", "4"),
      },
      {
        description: "t2_tse_sag",
        imageType: MRI,
        sliceThickness: "4",
        mr: mr("SE", "SK\\SP\\OSP", "2D", "3500", "101"),
      },
      {
        description: "t1_tse_sag",
        imageType: MRI,
        sliceThickness: "4",
        mr: mr("SE", "SK\\SP", "2D", "600", "9.5"),
      },
      {
        description: "t2_tse_tra",
        imageType: MRI,
        sliceThickness: "4",
        mr: mr("SE", "SK\\SP\\OSP", "2D", "4000", "96"),
      },
      {
        description: "t2_stir_sag",
        imageType: MRI,
        sliceThickness: "4",
        mr: mr("SE\\IR", "SK\\SP\\MP", "2D", "4200", "45"),
      },
    ],
  },
  // CR
  {
    modality: "CR",
    description: "XR CHEST PA AND LATERAL",
    bodyPart: "CHEST",
    protocol: "Chest PA/LAT",
    fov: 430,
    weight: 6,
    series: [
      { description: "PA", imageType: XR, viewPosition: "PA" },
      { description: "LAT", imageType: XR, viewPosition: "LL" },
    ],
  },
  {
    modality: "CR",
    description: "XR HAND LEFT 3 VIEWS",
    bodyPart: "HAND",
    protocol: "Hand 3 views",
    fov: 240,
    weight: 2,
    series: [
      { description: "PA", imageType: XR, viewPosition: "PA" },
      { description: "OBLIQUE", imageType: XR, viewPosition: "LLO" },
      { description: "LATERAL", imageType: XR, viewPosition: "LL" },
    ],
  },
  {
    modality: "CR",
    description: "XR KNEE RIGHT 2 VIEWS",
    bodyPart: "KNEE",
    protocol: "Knee AP/LAT",
    fov: 300,
    weight: 2,
    series: [
      { description: "AP", imageType: XR, viewPosition: "AP" },
      { description: "LATERAL", imageType: XR, viewPosition: "RL" },
    ],
  },
  {
    modality: "CR",
    description: "XR PELVIS AP",
    bodyPart: "PELVIS",
    protocol: "Pelvis AP",
    fov: 430,
    weight: 1,
    series: [{ description: "AP", imageType: XR, viewPosition: "AP" }],
  },
  // US
  {
    modality: "US",
    description: "US ABDOMEN COMPLETE",
    bodyPart: "ABDOMEN",
    protocol: "Abdomen",
    fov: 160,
    weight: 4,
    series: [
      { description: "Abdomen", imageType: ["ORIGINAL", "PRIMARY", "ABDOMINAL"] },
      { description: "Liver / Gallbladder", imageType: ["ORIGINAL", "PRIMARY", "ABDOMINAL"] },
      { description: "Kidneys", imageType: ["ORIGINAL", "PRIMARY", "ABDOMINAL"] },
    ],
  },
  {
    modality: "US",
    description: "US THYROID",
    bodyPart: "NECK",
    protocol: "Thyroid",
    fov: 50,
    weight: 2,
    series: [{ description: "Thyroid", imageType: ["ORIGINAL", "PRIMARY", "SMALL PARTS"] }],
  },
  {
    modality: "US",
    description: "US RENAL",
    bodyPart: "KIDNEY",
    protocol: "Renal",
    fov: 140,
    weight: 1,
    series: [{ description: "Renal", imageType: ["ORIGINAL", "PRIMARY", "ABDOMINAL"] }],
  },
  // PET/CT
  {
    modality: "PT",
    description: "PET-CT WHOLE BODY FDG",
    bodyPart: "WHOLEBODY",
    protocol: "WB FDG",
    fov: 700,
    weight: 3,
    series: [
      { description: "PET WB AC", imageType: ["ORIGINAL", "PRIMARY"], sliceThickness: "3" },
      { description: "CT AC 3.0 B19f", modality: "CT", imageType: ORIG, sliceThickness: "3" },
      { description: "PET WB NAC", imageType: ["ORIGINAL", "PRIMARY"], sliceThickness: "3" },
      {
        description: "PET WB MIP",
        imageType: ["DERIVED", "SECONDARY", "MIP"],
        sliceThickness: "3",
      },
    ],
  },
  {
    modality: "PT",
    description: "PET-CT BRAIN FDG",
    bodyPart: "HEAD",
    protocol: "Brain FDG",
    fov: 300,
    weight: 1,
    series: [
      { description: "PET Brain AC", imageType: ["ORIGINAL", "PRIMARY"], sliceThickness: "2" },
      { description: "CT Brain AC 3.0", modality: "CT", imageType: ORIG, sliceThickness: "3" },
      { description: "PET Brain NAC", imageType: ["ORIGINAL", "PRIMARY"], sliceThickness: "2" },
    ],
  },
];

// ------------------------------------------------------------ scheduling

/** Relative study volume per weekday (0 = Sunday … 6 = Saturday). */
export const WEEKDAY_WEIGHTS = [0.25, 1.0, 1.0, 0.95, 1.0, 0.85, 0.35];

/** Relative study volume per hour on working days: busy mornings, lunch dip, quiet nights. */
export const WEEKDAY_HOURS = [
  0.4, 0.3, 0.3, 0.3, 0.3, 0.4, 0.8, 3, 8, 10, 10, 9, 6, 7, 8, 7, 5, 3.5, 2.5, 2, 1.5, 1.2, 0.9,
  0.6,
];

/** Weekends: flatter, mostly emergencies. */
export const WEEKEND_HOURS = [
  0.6, 0.5, 0.4, 0.4, 0.4, 0.4, 0.5, 0.8, 1.5, 2, 2.2, 2.2, 2, 1.8, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3,
  1.2, 1, 0.9, 0.7,
];

/**
 * Scheduled modalities have opening hours and fewer weekend slots; CT and
 * CR also run the emergency department around the clock.
 */
export const OPENING_HOURS: Record<ModalityCode, { from: number; to: number; weekend: number }> = {
  CT: { from: 0, to: 23, weekend: 1 },
  CR: { from: 0, to: 23, weekend: 1 },
  US: { from: 7, to: 21, weekend: 0.5 },
  MR: { from: 7, to: 20, weekend: 0.25 },
  PT: { from: 7, to: 17, weekend: 0.1 },
};
