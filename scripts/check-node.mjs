// Fails early, with the fix, when the repository's scripts would run on a Node older than the
// root `engines.node` (for example the system Node 20 instead of the Node 24 that `npm install`
// provides). `node scripts/check-node.mjs examples/demo` checks that workspace's floor instead. Plain JavaScript with old syntax on purpose: it must run on the old Node it catches,
// which cannot load TypeScript files (so: no `??`, `?.` or other syntax newer than Node 12).
import { readFileSync } from 'node:fs'

const rootUrl = new URL('../', import.meta.url)
const root = JSON.parse(readFileSync(new URL('package.json', rootUrl), 'utf8'))
const workspace = process.argv[2]
const checked = workspace ? JSON.parse(readFileSync(new URL(workspace + '/package.json', rootUrl), 'utf8')) : root
const wanted = String((checked.engines && checked.engines.node) || '')
const floor = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(wanted.trim())
if (!floor) {
  console.error(`check-node: engines.node of ${checked.name} must be ">=MAJOR.MINOR.PATCH"; found "${wanted}"`)
  process.exit(1)
}
const need = [Number(floor[1]), Number(floor[2] || 0), Number(floor[3] || 0)]
const have = process.versions.node.split('.').map(Number)

function older(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i]
  return false
}

if (older(have, need)) {
  const platform = `${process.platform}-${process.arch}`
  const provided = Object.keys(root.optionalDependencies || {})
    .filter((name) => /^node-[a-z0-9]+-[a-z0-9]+$/.test(name))
    .map((name) => name.slice('node-'.length))
  const who = workspace ? `${checked.name} needs` : "Beaver Kit's tests and scripts need"
  const lines = [`${who} Node ${wanted}; this is ${process.version} at ${process.execPath}.`]
  if (provided.indexOf(platform) >= 0) {
    lines.push(
      `Fix: run \`npm install\` first. It installs Node 24 from the npm package node-${platform} into node_modules/.bin,`,
      'which every npm script uses (run tools through npm: `npm test`, `npx vitest ...`, not with the system node).',
    )
  } else {
    const extra = { darwin: ' or `brew install node@24`', win32: ' or `winget install OpenJS.NodeJS.LTS`' }
    lines.push(
      `The npm registry has no Node 24 package for ${platform}; \`npm install\` provides one only on ${provided.join(', ')}.`,
      'Fix: install Node 24 yourself and put it first on PATH, then run `npm install` and `npm test` again:',
      `  https://nodejs.org/en/download or \`nvm install 24\` or \`fnm install 24\`${extra[process.platform] || ''}`,
    )
  }
  console.error(lines.join('\n'))
  process.exit(1)
}
