import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/** Every BEAVER_STORAGE_* setting: the one source of names, defaults, validation and the README table. */
export const storageSchema = defineSchema(
  'STORAGE',
  {
    driver: f.string({
      default: 'local',
      pattern: /^[a-z][a-z0-9-]*$/,
      doc: 'Which driver stores files: local, memory, s3, azure, gcs, sftp, zip (read-only), or a name given to registerStorageDriver',
    }),
    namespace: f.string({
      pattern: /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
      doc: 'Key prefix every path is stored under (folders joined by "/"); default none',
    }),
    maxFileSize: f.bytes({
      default: '5gb',
      doc: 'Largest body put() accepts; a bigger stream fails and leaves nothing',
    }),
    maxReadSize: f.bytes({ default: '64mb', doc: 'Largest file get() reads into memory (getStream() has no limit)' }),
    maxPathBytes: f.int({ default: 1024, min: 16, max: 4096, doc: 'Longest path, in UTF-8 bytes, namespace included' }),
    listPageSize: f.int({ default: 1000, min: 1, max: 1000, doc: 'Most entries one list() page asks the driver for' }),
    defaultVisibility: f.enum({
      values: ['private', 'public'],
      default: 'private',
      doc: 'Visibility of files put() without one',
    }),
    publicUrl: f.url({ doc: 'Base URL public files are served from (url() joins the path to it)' }),
    signing: {
      key: f.string({
        secret: true,
        minLength: 32,
        doc: 'Secret (32+ chars) the kit signs URLs with for drivers that cannot presign (local, memory)',
      }),
      baseUrl: f.url({ doc: 'Where handleSignedRequest() is mounted, e.g. https://example.com/files' }),
      expiresIn: f.duration({ default: '15m', doc: 'Lifetime of signed URLs when none is given' }),
    },
    local: {
      root: f.string({
        default: '.data/storage',
        doc: 'Folder the local driver keeps files under (created on first write)',
      }),
    },
    memory: {
      maxBytes: f.bytes({ default: '256mb', doc: 'Most bytes the memory driver holds; a put beyond it fails' }),
    },
    s3: {
      bucket: f.string({ doc: 'Bucket (required with the s3 driver)' }),
      region: f.string({ doc: 'Region; default the AWS SDK chain (AWS_REGION...)' }),
      endpoint: f.url({ doc: 'Endpoint of an S3-compatible store (MinIO, R2, s3rver...)' }),
      accessKeyId: f.string({ secret: true, doc: 'Access key id; default the AWS SDK credential chain' }),
      secretAccessKey: f.string({ secret: true, doc: 'Secret access key (with the key id)' }),
      forcePathStyle: f.boolean({ default: false, doc: 'Bucket in the path, as most S3-compatible stores need' }),
      partSize: f.bytes({
        default: '8mb',
        doc: 'Multipart part size (at least 5mb); an upload holds at most partSize x (concurrency + 2) in memory',
      }),
      concurrency: f.int({ default: 4, min: 1, max: 64, doc: 'Parts uploaded at once per multipart upload' }),
      acl: f.boolean({ default: false, doc: 'Send visibility as an object ACL too (buckets with ACLs enabled only)' }),
      checksums: f.enum({
        values: ['when-supported', 'when-required'],
        default: 'when-supported',
        doc: 'AWS SDK request checksums; when-required for stores that reject them',
      }),
    },
    azure: {
      container: f.string({ doc: 'Blob container (required with the azure driver)' }),
      connectionString: f.string({
        secret: true,
        doc: 'Storage account connection string (or account name and key below)',
      }),
      accountName: f.string({ doc: 'Storage account name, with its key' }),
      accountKey: f.string({ secret: true, doc: 'Storage account key (base64), with the account name' }),
      endpoint: f.url({ doc: 'Blob service URL; default https://<account>.blob.core.windows.net' }),
      blockSize: f.bytes({
        default: '4mb',
        doc: 'Block size of staged uploads; a body up to one block is one Put Blob',
      }),
      concurrency: f.int({ default: 4, min: 1, max: 64, doc: 'Blocks staged at once per upload' }),
    },
    sftp: {
      host: f.string({ doc: 'SFTP server host name or address (required with the sftp driver)' }),
      port: f.int({ default: 22, min: 1, max: 65535, doc: 'SFTP server port' }),
      username: f.string({ doc: 'User to log in as (required with the sftp driver)' }),
      password: f.string({ secret: true, doc: 'Password, when the server takes one (else the private key)' }),
      privateKey: f.string({
        secret: true,
        doc: 'Private key text, OpenSSH or PEM (BEAVER_STORAGE_SFTP_PRIVATE_KEY_FILE reads it from a file)',
      }),
      passphrase: f.string({ secret: true, doc: 'Passphrase of an encrypted private key' }),
      hostFingerprint: f.string({
        pattern: /^SHA256:[A-Za-z0-9+/]{43}$/,
        doc: 'Host key fingerprint as ssh-keygen -lf prints it (SHA256:...); any other server key is refused',
      }),
      acceptAnyHostKey: f.boolean({
        default: false,
        doc: 'Skip the host key check (tests, trusted networks); without it HOST_FINGERPRINT is required',
      }),
      root: f.string({ default: '.', doc: 'Folder on the server files live under (created on first write)' }),
      concurrency: f.int({
        default: 8,
        min: 1,
        max: 64,
        doc: 'SFTP operations in flight at once on the one connection',
      }),
      connectTimeout: f.duration({ default: '10s', doc: 'Longest wait for the SSH handshake' }),
    },
    zip: {
      file: f.string({ doc: 'Zip archive the zip driver reads (required with the zip driver; read-only)' }),
      maxEntries: f.int({
        default: 10_000,
        min: 1,
        doc: 'Most entries an archive may hold; more is refused as a zip bomb',
      }),
      maxTotalSize: f.bytes({
        default: '1gb',
        doc: 'Most uncompressed bytes all entries may declare together; more is refused',
      }),
      maxRatio: f.int({
        default: 100,
        min: 1,
        doc: 'Highest compression ratio of an entry over 1mb uncompressed; more is refused as a zip bomb',
      }),
    },
    gcs: {
      bucket: f.string({ doc: 'Bucket (required with the gcs driver)' }),
      projectId: f.string({ doc: 'Google Cloud project id; default the one of the credentials' }),
      apiEndpoint: f.url({ doc: 'JSON API endpoint; default https://storage.googleapis.com' }),
      clientEmail: f.string({ doc: 'Service account e-mail, with its private key' }),
      privateKey: f.string({ secret: true, doc: 'Service account private key (PEM), with the e-mail' }),
      keyFilename: f.string({ doc: 'Path of a service account JSON key file (instead of e-mail and key)' }),
      chunkSize: f.bytes({
        default: '8mb',
        doc: 'Chunk size of resumable uploads (multiple of 256kb); a body up to one chunk is one request',
      }),
    },
  },
  'storage',
)

export type StorageSettings = SchemaOptions<typeof storageSchema>
