export * from "./options.js";
export * from "./settings.js";
export * from "./proposals.js";
export * from "./session.js";
export * from "./pacing.js";
export * from "./journal.js";
export * from "./batch.js";
export * from "./receive.js";
