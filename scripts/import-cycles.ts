// Fails when the packages' sources import each other in a cycle at runtime. Follows relative
// imports and sibling packages (`@beaver-kit/x` through the `@beaver-kit/source` export), static
// and literal dynamic `import()`, re-exports included; type-only imports and exports
// (`import type`, `export type`) do not load anything and are left out. Tests and benches are
// not sources. `node scripts/import-cycles.ts [dir...]` (default: packages examples).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { loadAllowList } from './allow-list.ts'

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['packages', 'examples']
const cwd = process.cwd()

/** `@beaver-kit/name[/sub]` → the source file its `@beaver-kit/source` export names. */
const sourceEntries = new Map<string, string>()
for (const group of roots) {
  if (!existsSync(group)) continue
  for (const entry of readdirSync(group)) {
    const file = join(group, entry, 'package.json')
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; exports?: Record<string, unknown> }
    for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
      const src =
        typeof target === 'object' && target ? (target as Record<string, unknown>)['@beaver-kit/source'] : undefined
      if (typeof src !== 'string' || src.includes('*')) continue
      sourceEntries.set(sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`, resolve(group, entry, src))
    }
  }
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (['node_modules', 'dist', 'test', 'bench', 'coverage', 'data'].includes(name)) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sourceFiles(path, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts')) out.push(resolve(path))
  }
  return out
}

function target(from: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) {
    const path = resolve(dirname(from), specifier)
    for (const candidate of [path, `${path}.ts`, join(path, 'index.ts')]) {
      if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
    }
    return undefined
  }
  return sourceEntries.get(specifier)
}

/** The runtime imports of one file. */
export function runtimeImports(file: string, text: string): string[] {
  const found: string[] = []
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isExportDeclaration(node) &&
      !node.isTypeOnly &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const edges = new Map<string, string[]>()
const pending = roots.filter((r) => existsSync(r)).flatMap((r) => sourceFiles(r))
while (pending.length > 0) {
  const file = pending.pop() as string
  if (edges.has(file)) continue
  const next = runtimeImports(file, readFileSync(file, 'utf8'))
    .map((s) => target(file, s))
    .filter((t): t is string => t !== undefined)
  edges.set(file, next)
  pending.push(...next.filter((t) => !edges.has(t)))
}

// Depth-first search; a back edge to a file on the stack closes a cycle.
const cycles: string[][] = []
const state = new Map<string, 'open' | 'done'>()
const stack: string[] = []
const visit = (file: string): void => {
  state.set(file, 'open')
  stack.push(file)
  for (const next of edges.get(file) ?? []) {
    if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
    else if (!state.has(next)) visit(next)
  }
  stack.pop()
  state.set(file, 'done')
}
for (const file of [...edges.keys()].sort()) if (!state.has(file)) visit(file)

/** The workspace folder a file belongs to (`packages/cache`). */
const owner = (file: string): string => relative(cwd, file).split(/[\\/]/).slice(0, 2).join('/')
const failed = new Set<string>()
if (cycles.length > 0) {
  console.error(`import cycles (${cycles.length}; type-only imports excluded):`)
  for (const cycle of cycles.slice(0, 20)) console.error(`  ${cycle.map((f) => relative(cwd, f)).join(' -> ')}`)
  for (const cycle of cycles) for (const file of cycle) failed.add(owner(file))
}
const blocking = loadAllowList().settle('cycles', failed)
if (blocking > 0) process.exit(1)
console.log(`import cycles: ${cycles.length === 0 ? 'none' : 'only allowed ones'} among ${edges.size} source files`)
