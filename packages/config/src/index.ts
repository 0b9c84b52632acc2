export { f } from './fields.ts'
export { redisTopologyFields } from './redis-topology.ts'
export type { Field, FieldType } from './fields.ts'
export { defineSchema, isSchema, listFields, toEnvSegment } from './schema.ts'
export type { ConfigOptions, InferConfig, Schema, SchemaConfig, SchemaOptions, Shape } from './schema.ts'
export { DEFAULT_PREFIX, formatEntries, resolveConfig } from './resolve.ts'
export type { DescribedValue, ResolvedConfig, ResolveOptions, ValueSource } from './resolve.ts'
export { ConfigError, isConfigError } from './errors.ts'
export type { ConfigErrorCode, ConfigIssue } from './errors.ts'
export { validateConfiguration } from './validate.ts'
export type { ConfigurationCheck } from './validate.ts'
export { parseBoolean, parseBytes, parseDuration, parseJson, parseList } from './parse.ts'
export { formatBytes, formatDuration, toBytes, toMs } from './units.ts'
export type { Bytes, Duration } from './units.ts'
export {
  isSecretName,
  isSecretNormalized,
  MASK,
  maskJson,
  maskText,
  maskUrl,
  maskUrlsIn,
  normalizeName,
  SECRET_NAME_PATTERNS,
  SECRET_NAME_RULES,
} from './secrets.ts'
export { describeInstance, formatDescription } from './describe.ts'
export type { EnvSource, InstanceDescription, InstanceOptions } from './describe.ts'
export { renderEnvTable } from './markdown.ts'
export { readEnvFiles } from './dotenv.ts'
export { closest } from '@beaver-kit/core'
