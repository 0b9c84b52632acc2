import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/** Every BEAVER_SMS_* setting: the one source of names, defaults, validation and the README table. */
export const smsSchema = defineSchema(
  'SMS',
  {
    driver: f.enum({ values: ['memory'], default: 'memory', doc: 'Which driver to use' }),
  },
  'sms',
)

export type SmsSettings = SchemaOptions<typeof smsSchema>
