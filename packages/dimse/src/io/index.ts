export * from "./io.js";
export * from "./output.js";
export * from "./input.js";
export * from "./analysis.js";
export * from "./glob.js";
export * from "./walk.js";
export * from "./pool.js";
export * from "./atomic.js";
