/**
 * @mesh/mcp: planned. Nothing is exported yet; see README.md, "Status".
 */
export {};
