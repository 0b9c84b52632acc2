// One scheduler process of the fleet test: the same schedules as its siblings, over a shared
// store; every run it starts is appended to a log file (due time, token, instance).
import { appendFileSync } from 'node:fs'
import { createScheduler } from '@beaver-kit/scheduler'

const { FLEET_STORE, FLEET_URL, FLEET_NS, FLEET_LOG, FLEET_INSTANCE, FLEET_HANG } = process.env
const store = FLEET_STORE as string
const s = createScheduler({
  store,
  envPrefix: false,
  namespace: FLEET_NS as string,
  instance: FLEET_INSTANCE as string,
  leaseTtl: '2s',
  grace: '10s',
  pollInterval: '200ms',
  ...(store === 'redis' ? { redis: { url: FLEET_URL as string } } : { db: { url: FLEET_URL as string } }),
})
// Overlapping runs allowed: on a loaded machine a run's finish can be written after the next
// second's claim, and `skip` (the default) would then record that occurrence as skipped. What is
// tested here is that each occurrence is claimed once, not the overlap policy (see engine tests).
s.schedule(
  'tick',
  '* * * * * *',
  ({ dueAt, token, trigger }) => {
    appendFileSync(FLEET_LOG as string, `${dueAt.getTime()} ${token} ${FLEET_INSTANCE} ${trigger}\n`)
  },
  { overlap: 'allow' },
)
if (FLEET_HANG) {
  // A run that never ends: the test kills this process mid-run.
  s.schedule('hang', new Date(Date.now() + 2000), () => {
    appendFileSync(FLEET_LOG as string, `hang ${FLEET_INSTANCE}\n`)
    return new Promise(() => undefined)
  })
}
process.on('SIGTERM', () => void s.close().then(() => process.exit(0)))
