export { buildMembers, closeMembers, createRouter } from './router.ts'
export type { Router, RouterOptions, RouterTarget, TargetState } from './router.ts'
export {
  createCacheSuppressionList,
  createDatabaseSuppressionList,
  createMemorySuppressionList,
} from './suppression.ts'
export type { SuppressionCache, SuppressionDatabase, SuppressionEntry, SuppressionList } from './suppression.ts'
export { checkTimestamp, headerValue, safeEqual, verifyHmac, verifySvix } from './signatures.ts'
export type { HeaderBag, Verification } from './signatures.ts'
export {
  confirmSnsSubscription,
  isAwsSnsUrl,
  parseSnsMessage,
  snsStringToSign,
  verifySnsMessage,
  verifySnsRequest,
} from './sns.ts'
export type { SnsMessage, SnsVerifyOptions } from './sns.ts'
export { BodyTooLargeError, readBody, requestUrl, toNodeHandler } from './http-adapter.ts'
export type { NodeAdapterOptions, WebhookReply, WebhookRequest } from './http-adapter.ts'
export { createRedisTokenBucket, createTokenBucket } from './rate-limit.ts'
export type { RedisEvalClient, SendRateLimiter, TokenBucketOptions } from './rate-limit.ts'
export { classifyApiFailure, createProviderClient } from './provider-client.ts'
export type {
  ApiFailure,
  ProviderClient,
  ProviderClientOptions,
  ProviderRequest,
  ProviderResponse,
} from './provider-client.ts'
export { consumeSends, createCacheLedger, createMemoryLedger, enqueueSend } from './queued.ts'
export type { QueueLike, QueueTiming, SentLedger } from './queued.ts'
export { buildProviderSetMembers, createCompositeSender, createProviderSet, summarizeFailures } from './provider-set.ts'
export type {
  CompositeMember,
  CompositeSender,
  MemberFailure,
  ProviderSet,
  ProviderSetMember,
  ProviderSetOptions,
  ProviderSetPolicy,
} from './provider-set.ts'
export { withSendRetries } from './retrying.ts'
export type { RetryableSender, SendRetryPolicy } from './retrying.ts'
export { countOutcomes, sendEach } from './batch.ts'
export type { BatchOutcome } from './batch.ts'
export { awsClientConfig, classifyAwsFailure } from './aws.ts'
export type { AwsClientSettings, AwsFailure } from './aws.ts'
