// The local Google Cloud Storage JSON API server (see gcs-server/server.ts for what it covers).
export { startGcsServer, type GcsServerOptions, type LocalGcs } from './gcs-server/server.ts'
export type { StoredObject } from './gcs-server/objects.ts'
