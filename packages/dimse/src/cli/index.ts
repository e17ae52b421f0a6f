export * from "./args.js";
export * from "./common.js";
export * from "./exit.js";
export * from "./logger.js";
export * from "./progress.js";
export * from "./analysis.js";
export * from "./dcmtk.js";
export * from "./shard.js";
