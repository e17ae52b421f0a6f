export * from "./dict.js";
export * from "./charset.js";
export * from "./syntax.js";
export * from "./dataset.js";
export * from "./part10.js";
export * from "./uid.js";
export * from "./dump.js";
export * from "./uid-table.js";
