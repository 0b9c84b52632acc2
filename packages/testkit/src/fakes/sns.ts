// Amazon SNS's Query API for SMS, as documented at
// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html: POST / form-encoded
// Action=Publish&Version=2010-03-31&PhoneNumber=…&Message=…&MessageAttributes.entry.N.…,
// SigV4-signed (the access key id named in the Authorization header is checked, not the
// signature); 200 with an XML PublishResponse (MessageId, RequestId); errors as an XML
// ErrorResponse (Type, Code, Message): 400 InvalidParameter, 400 Throttling ("Rate exceeded"),
// 403 InvalidClientTokenId. GetSMSAttributes answers an empty attribute map.
import { randomUUID } from 'node:crypto'
import type { ReceivedSms } from '../sms.ts'
import { formBody, header, startHttpFake, type FakeResponse, type HttpFake } from './http-fake.ts'

export interface SnsFake extends HttpFake {
  readonly region: string
  readonly credentials: { accessKeyId: string; secretAccessKey: string }
  received(): ReceivedSms[]
  /** Message attributes of each accepted Publish (AWS.SNS.SMS.SMSType, SenderID...). */
  readonly attributes: Array<Record<string, string>>
  snsError(status: number, code: string, message: string): FakeResponse
}

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/'
const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export async function startSnsFake(accessKeyId = 'AKIDSNSLOCAL'): Promise<SnsFake> {
  const accepted: ReceivedSms[] = []
  const attributes: Array<Record<string, string>> = []
  const snsError = (status: number, code: string, message: string): FakeResponse => ({
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<ErrorResponse xmlns="${NS}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  })
  const ok = (action: string, result: string): FakeResponse => ({
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  })
  const fake = await startHttpFake(async (req) => {
    const credential = /Credential=([^/]+)\//.exec(header(req, 'authorization') ?? '')
    if (credential?.[1] !== accessKeyId)
      return snsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
    const form = await formBody(req)
    const action = String(form.get('Action'))
    if (action === 'GetSMSAttributes') return ok('GetSMSAttributes', '<attributes/>')
    if (action !== 'Publish')
      return snsError(400, 'InvalidAction', `The action ${action} is not valid for this endpoint.`)
    const phone = String(form.get('PhoneNumber') ?? '')
    const message = form.get('Message')
    if (!/^\+[1-9]\d{1,14}$/.test(phone))
      return snsError(
        400,
        'InvalidParameter',
        `Invalid parameter: PhoneNumber Reason: ${phone} is not valid to publish to`,
      )
    if (!message) return snsError(400, 'InvalidParameter', 'Invalid parameter: Empty message')
    const attrs: Record<string, string> = {}
    for (let i = 1; form.get(`MessageAttributes.entry.${i}.Name`) !== null; i++) {
      attrs[String(form.get(`MessageAttributes.entry.${i}.Name`))] = String(
        form.get(`MessageAttributes.entry.${i}.Value.StringValue`),
      )
    }
    attributes.push(attrs)
    accepted.push({
      to: phone,
      from: attrs['AWS.MM.SMS.OriginationNumber'] ?? attrs['AWS.SNS.SMS.SenderID'],
      body: String(message),
    })
    return ok('Publish', `<MessageId>${randomUUID()}</MessageId>`)
  })
  return {
    ...fake,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'local-secret' },
    attributes,
    snsError,
    received: () => accepted.slice(),
    clear() {
      fake.clear()
      accepted.length = 0
      attributes.length = 0
    },
  }
}
