export { ConfigError } from './errors.js';
export {
  boolean,
  describeSchema,
  integer,
  list,
  loadConfig,
  oneOf,
  optionalString,
  string,
  type ConfigOf,
  type Schema,
  type Setting,
} from './settings.js';
