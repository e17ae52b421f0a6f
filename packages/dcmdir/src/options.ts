/** Options shared by several dcmdir commands. */
export function jobsOption() {
  return { alias: "j", type: "number" as const, default: 8, describe: "files read at once", group: "Processing:" };
}
