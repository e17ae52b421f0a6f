export * from "./flat.js";
export * from "./keys.js";
export * from "./columns.js";
export * from "./validate.js";
export * from "./legacy.js";
export * from "./analysis.js";
export * from "./layout.js";
export * from "./shard.js";
