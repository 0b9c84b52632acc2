// Publishing metadata of every publishable package, derived from the root package.json so that
// a package added later inherits it: license (and the LICENSE file itself, which npm packs from
// the package folder), repository with its directory, homepage, bugs, publishConfig.access,
// and the presence of keywords and a `>=x.y.z` engines.node floor.
//   node scripts/package-metadata.ts          write what is missing or wrong (keys keep their order)
//   node scripts/package-metadata.ts --check  fail, listing every difference (CI)
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { workspaces } from './workspaces.ts'

interface Manifest {
  name: string
  license?: string
  repository?: { type: string; url: string; directory?: string }
  homepage?: string
  bugs?: string
  keywords?: string[]
  engines?: { node?: string }
  publishConfig?: { access?: string }
  [key: string]: unknown
}

const root = process.cwd()
const check = process.argv.includes('--check')
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest
const license = readFileSync(join(root, 'LICENSE'), 'utf8')
const repo = rootPkg.repository
if (!repo || !rootPkg.homepage || !rootPkg.bugs || !rootPkg.license)
  throw new Error('the root package.json needs license, repository, homepage and bugs: the packages derive theirs')
const web = repo.url.replace(/^git\+/, '').replace(/\.git$/, '')

const FLOOR = /^>=\d+\.\d+\.\d+$/
let problems = 0
for (const w of workspaces(root)) {
  if (w.private) continue
  const file = join(w.dir, 'package.json')
  const text = readFileSync(file, 'utf8')
  const pkg = JSON.parse(text) as Manifest
  const dir = relative(root, w.dir).split('\\').join('/')
  const expected: Partial<Manifest> = {
    license: rootPkg.license,
    repository: { type: 'git', url: repo.url, directory: dir },
    homepage: `${web}/tree/main/${dir}#readme`,
    bugs: rootPkg.bugs,
    publishConfig: { ...pkg.publishConfig, access: 'public' },
  }
  const fixed: string[] = []
  const manual: string[] = []
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(pkg[key]) === JSON.stringify(value)) continue
    fixed.push(`${key}: should be ${JSON.stringify(value)}`)
    pkg[key] = value
  }
  // What a person decides, so only checked: words users search for, and the true Node floor.
  if (!pkg.keywords || pkg.keywords.length < 3 || !pkg.keywords.includes('beaver-kit'))
    manual.push('keywords: list at least three, including "beaver-kit" (write them by hand)')
  if (!pkg.engines?.node || !FLOOR.test(pkg.engines.node))
    manual.push('engines.node: declare the floor as ">=x.y.z", the oldest Node the package runs on (proven in CI)')
  const licenseFile = join(w.dir, 'LICENSE')
  if (!existsSync(licenseFile) || readFileSync(licenseFile, 'utf8') !== license) {
    fixed.push('LICENSE: a copy of the root LICENSE (npm packs it from the package folder)')
    if (!check) writeFileSync(licenseFile, license)
  }
  if (check) problems += fixed.length + manual.length
  else problems += manual.length
  if (check && fixed.length > 0) console.error(`${w.name}:\n  ${fixed.join('\n  ')}`)
  if (!check && fixed.length > 0) {
    writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`)
    console.log(`${w.name}: wrote ${fixed.map((x) => x.split(':')[0]).join(', ')}`)
  }
  if (manual.length > 0) console.error(`${w.name} (fix by hand):\n  ${manual.join('\n  ')}`)
}
if (problems > 0) {
  const hint = check ? '; `node scripts/package-metadata.ts` writes all but the hand-written ones' : ''
  console.error(`package metadata: ${problems} problem(s)${hint}`)
  process.exit(1)
}
console.log('package metadata: ok')
