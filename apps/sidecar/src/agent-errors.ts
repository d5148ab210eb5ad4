/** The node agent's errors live in the sidecar's one table (errors.ts); this name stays for the agent files. */
export { errors as agentErrors } from './errors';
