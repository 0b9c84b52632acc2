export { createMailer } from './mail.ts'
export { createCacheLedger, createMemoryLedger } from '@beaver-kit/delivery'
export type { QueueLike, QueueTiming, SentLedger } from '@beaver-kit/delivery'
export type { Mailer, MailerOptions, SendOptions, TemplateExtras } from './mail.ts'
export { mailer, initMailer, resetMailer, withPrefix } from './default.ts'
export { mailerSchema } from './config.ts'
export type { MailConfig, MailerSettings } from './config.ts'
export { MailError, isMailError } from './errors.ts'
export type { MailErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export type { SendContext } from './channels.ts'
export type { MailMessage, OutgoingMail } from './message.ts'
export type { Address, AddressInput } from './address.ts'
export { formatAddress, isValidAddress } from './address.ts'
export type { AttachmentInput, PreparedAttachment } from './attachments.ts'
export type { SendResult } from './send-result.ts'
export type { BatchItem, BatchResult } from './batch.ts'
export { defineMailDriver, plainCapabilities } from './transport.ts'
export type {
  MailDriverContext,
  MailDriverDefinition,
  MailDriverSection,
  MailTransport,
  MailTransportCapabilities,
  TransportReceipt,
  TransportSendOptions,
} from './transport.ts'
export { transportError } from './failures.ts'
export { registerMailDriver, mailDriverNames } from './registry.ts'
export type { CapturedMail, SentMatcher } from './drivers/memory.ts'
export type { RenderedMail } from './templates/renderer.ts'
export type { LayoutSource, TemplateCache, TemplateSource } from './templates/sources.ts'
export type { DeliveryListener, MailWebhooks, WebhookResult } from './events/webhooks.ts'
export type { DeliveryEvent, DeliveryEventType, WebhookProvider } from './events/types.ts'
export type { SesWebhookExtras } from './events/ses.ts'
