// The workspace packages in dependency order, for the build, docs and publint scripts.
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'

export interface Workspace {
  name: string
  dir: string
  private: boolean
  deps: string[]
}

export function workspaces(root = process.cwd()): Workspace[] {
  const found: Workspace[] = []
  for (const group of ['packages', 'examples']) {
    const base = join(root, group)
    if (!existsSync(base)) continue
    for (const entry of readdirSync(base)) {
      const file = join(base, entry, 'package.json')
      if (!existsSync(file)) continue
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
        name: string
        private?: boolean
        dependencies?: Record<string, string>
        peerDependencies?: Record<string, string>
      }
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).filter((d) =>
        d.startsWith('@beaver-kit/'),
      )
      found.push({ name: pkg.name, dir: join(base, entry), private: pkg.private === true, deps })
    }
  }
  const byName = new Map(found.map((w) => [w.name, w]))
  const ordered: Workspace[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (w: Workspace): void => {
    if (state.get(w.name) === 'done') return
    if (state.get(w.name) === 'visiting') return // an optional peer cycle: order does not matter
    state.set(w.name, 'visiting')
    for (const d of w.deps) {
      const dep = byName.get(d)
      if (dep) visit(dep)
    }
    state.set(w.name, 'done')
    ordered.push(w)
  }
  for (const w of found.sort((a, b) => a.name.localeCompare(b.name))) visit(w)
  return ordered
}
