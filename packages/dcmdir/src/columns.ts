/** The columns of the archive index: attribute name, tag, SQLite type. */
/** Series-level columns (patient, study and series attributes), with their tags. */
export const SERIES_COLUMNS: Array<[string, number, "TEXT" | "INTEGER"]> = [
  ["PatientID", 0x00100020, "TEXT"],
  ["PatientName", 0x00100010, "TEXT"],
  ["PatientBirthDate", 0x00100030, "TEXT"],
  ["PatientSex", 0x00100040, "TEXT"],
  ["StudyInstanceUID", 0x0020000d, "TEXT"],
  ["StudyDate", 0x00080020, "TEXT"],
  ["StudyTime", 0x00080030, "TEXT"],
  ["StudyDescription", 0x00081030, "TEXT"],
  ["AccessionNumber", 0x00080050, "TEXT"],
  ["StudyID", 0x00200010, "TEXT"],
  ["ReferringPhysicianName", 0x00080090, "TEXT"],
  ["InstitutionName", 0x00080080, "TEXT"],
  ["Modality", 0x00080060, "TEXT"],
  ["SeriesNumber", 0x00200011, "INTEGER"],
  ["SeriesDescription", 0x0008103e, "TEXT"],
  ["ProtocolName", 0x00181030, "TEXT"],
  ["BodyPartExamined", 0x00180015, "TEXT"],
  ["SeriesDate", 0x00080021, "TEXT"],
  ["SeriesTime", 0x00080031, "TEXT"],
  ["Manufacturer", 0x00080070, "TEXT"],
  ["ManufacturerModelName", 0x00081090, "TEXT"],
  ["StationName", 0x00081010, "TEXT"],
];

/** Instance-level columns read from each file (besides path, size, mtime). */
export const INSTANCE_COLUMNS: Array<[string, number, "TEXT" | "INTEGER"]> = [
  ["SOPInstanceUID", 0x00080018, "TEXT"],
  ["SOPClassUID", 0x00080016, "TEXT"],
  ["TransferSyntaxUID", 0x00020010, "TEXT"],
  ["SeriesInstanceUID", 0x0020000e, "TEXT"],
  ["InstanceNumber", 0x00200013, "INTEGER"],
  ["ImageType", 0x00080008, "TEXT"],
  ["AcquisitionDate", 0x00080022, "TEXT"],
  ["ContentDate", 0x00080023, "TEXT"],
];
