/** RDS: the route configurations the scope's listeners reference. */
import type { Generator } from './generators';
import { buildRouteConfigs } from './translate-route-config';

export const generateRds: Generator = (push, scope) => buildRouteConfigs(push, scope);
