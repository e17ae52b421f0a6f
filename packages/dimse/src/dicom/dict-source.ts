/**
 * Where the data dictionary comes from (`scripts/dictionary.mjs` copies
 * dcmjs' PS3.6 name map), for every tool's `--version` line. dcmjs names
 * no DICOM edition; a unit test keeps this equal to the installed dcmjs.
 */
export const DICTIONARY_SOURCE = "dcmjs 0.50.3";
