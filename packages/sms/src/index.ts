export { createSms } from './sms.ts'
export { createCacheLedger, createMemoryLedger } from '@beaver-kit/delivery'
export type { QueueLike, QueueTiming, SentLedger } from '@beaver-kit/delivery'
export type { Sms, SmsBatchItem, SmsBatchResult, SmsOptions, SmsResult } from './sms.ts'
export { sms, initSms, resetSms, withPrefix } from './default.ts'
export { smsSchema, slackSchema } from './config.ts'
export type { SlackSettings, SmsConfig, SmsSettings } from './config.ts'
export { SmsError, isSmsError } from './errors.ts'
export type { SmsErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export type { SmsMessage } from './message.ts'
export { isE164, segmentsOf, toE164 } from './phone.ts'
export { defineSmsDriver } from './driver.ts'
export type {
  OutgoingSms,
  SmsDriver,
  SmsDriverCapabilities,
  SmsDriverContext,
  SmsDriverDefinition,
  SmsDriverSection,
  SmsReceipt,
  SmsSendOptions,
} from './driver.ts'
export { driverError } from './failures.ts'
export { registerSmsDriver, smsDriverNames } from './registry.ts'
export type { CapturedSms, SmsMatcher } from './drivers/memory.ts'
export type { InboundListener, SmsWebhookResult, SmsWebhooks, StatusListener } from './inbound/webhooks.ts'
export type { InboundSms, SmsKeyword, SmsStatusEvent, SmsWebhookProvider } from './inbound/types.ts'
export { keywordOf } from './inbound/types.ts'
export type { SnsWebhookExtras } from './inbound/sns.ts'
export { createSlackNotifier, initSlack, resetSlack, slack } from './slack.ts'
export type { SlackMessage, SlackNotifier, SlackOptions } from './slack.ts'
