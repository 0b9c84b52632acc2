/** What `send()` resolves to. */
export interface SendResult {
  /** The provider's id of the message; delivery events carry it. */
  readonly messageId: string
  /** The transport that sent it (the member of a failover set that took it). */
  readonly transport: string
  /** Recipients the provider accepted. */
  readonly accepted: readonly string[]
  /** Recipients the server refused while taking the message for the others (SMTP). */
  readonly rejected: readonly string[]
  /** Recipients left out because they are on the suppression list. */
  readonly suppressed: readonly string[]
}
