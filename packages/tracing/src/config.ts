import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/** Every BEAVER_TRACING_* setting: the one source of names, defaults, validation and the README table. */
export const tracingSchema = defineSchema(
  'TRACING',
  {
    driver: f.enum({ values: ['memory'], default: 'memory', doc: 'Which driver to use' }),
  },
  'tracing',
)

export type TracingSettings = SchemaOptions<typeof tracingSchema>
