export * from "./association.js";
export * from "./client.js";
export * from "./command.js";
export * from "./errors.js";
export * from "./logger.js";
export * from "./pdu.js";
export * from "./scp.js";
export * from "./server.js";
