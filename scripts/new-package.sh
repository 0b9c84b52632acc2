#!/usr/bin/env bash
# Scaffolds packages/<name> with the kit's whole instance model, so a new package starts in
# the shape every package has (docs/conventions.md): package.json with source/dist exports and
# publishing fields, tsconfig.build.json, vitest.config.ts, src/{index,config,errors,channels,
# default,<name>}.ts, a first test, and a README with the generated sections' markers.
#   scripts/new-package.sh <name> <noun> "<description>"
#   scripts/new-package.sh queue queue "Jobs and messages on memory, SQL, Redis and brokers"
#   scripts/new-package.sh mail mailer "Mail over SMTP and provider APIs"
# <name> is the package (and env section: BEAVER_<NAME>_*), <noun> the accessor: queue(),
# createQueue(), initQueue(), resetQueue(). Existing files are never overwritten.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 <name> <noun> \"<description>\"" >&2; exit 2; }
name=$1; noun=$2; desc=$3
cap() { local s=$1; echo "$(tr '[:lower:]' '[:upper:]' <<<"${s:0:1}")${s:1}"; }
camel() { local out='' part; IFS='-' read -ra parts <<<"$1"; for part in "${parts[@]}"; do out+=$(cap "$part"); done; echo "$out"; }
Name=$(camel "$name")         # Queue: QueueError
Noun=$(camel "$noun")         # Mailer: createMailer
SECTION=$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
dir=packages/$name
mkdir -p "$dir/src" "$dir/test"
[ -f "$dir/LICENSE" ] || cp LICENSE "$dir/LICENSE"  # npm packs the LICENSE from the package folder
write() { [ -f "$1" ] && { echo "kept $1"; return; }; cat >"$1"; echo "wrote $1"; }

write "$dir/package.json" <<JSON
{
  "name": "@beaver-kit/$name",
  "version": "0.1.0",
  "description": "$desc",
  "keywords": ["beaver-kit", "$name"],
  "license": "MIT",
  "repository": { "type": "git", "url": "git+https://github.com/beaver-kit/beaver-kit.git", "directory": "packages/$name" },
  "homepage": "https://github.com/beaver-kit/beaver-kit/tree/main/packages/$name#readme",
  "bugs": "https://github.com/beaver-kit/beaver-kit/issues",
  "publishConfig": { "access": "public" },
  "type": "module",
  "sideEffects": false,
  "engines": { "node": ">=22.12.0" },
  "exports": {
    ".": {
      "@beaver-kit/source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "default": "./dist/index.js"
    },
    "./package.json": "./package.json"
  },
  "files": ["dist", "src", "!src/**/*.test.ts"],
  "scripts": {
    "test": "vitest run",
    "build": "tsc -p tsconfig.build.json"
  },
  "dependencies": {
    "@beaver-kit/config": "0.1.0",
    "@beaver-kit/core": "0.1.0"
  },
  "devDependencies": {
    "@beaver-kit/testkit": "0.1.0"
  }
}
JSON

write "$dir/tsconfig.build.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "rootDir": "src",
    "outDir": "dist",
    "customConditions": [],
    "noEmit": false
  },
  "include": ["src"]
}
JSON

write "$dir/vitest.config.ts" <<TS
import { defineProject } from 'vitest/config'
import { projectConfig } from '../../vitest.shared.ts'

export default defineProject(projectConfig('$name'))
TS

write "$dir/src/config.ts" <<TS
import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

/** Every BEAVER_${SECTION}_* setting: the one source of names, defaults, validation and the README table. */
export const ${noun}Schema = defineSchema(
  '${SECTION}',
  {
    driver: f.enum({ values: ['memory'], default: 'memory', doc: 'Which driver to use' }),
  },
  '${name}',
)

export type ${Noun}Settings = SchemaOptions<typeof ${noun}Schema>
TS

write "$dir/src/errors.ts" <<TS
import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a ${Name}Error can carry; stable, so callers may switch on them. */
export type ${Name}ErrorCode = '${SECTION}_DRIVER_UNKNOWN' | '${SECTION}_DRIVER_NAME_INVALID' | '${SECTION}_CLOSED'

/** The one error class of @beaver-kit/$name. */
export class ${Name}Error extends BeaverError<${Name}ErrorCode> {}

/** True for a ${Name}Error (by brand, so it works across duplicate installs), optionally of the given codes. */
export const is${Name}Error = errorGuard<${Name}ErrorCode, ${Name}Error>('${SECTION}_')
TS

write "$dir/src/channels.ts" <<TS
import { defineChannels, tracing } from '@beaver-kit/core'

/** Every diagnostics channel of @beaver-kit/$name; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('$name', {
  ready: tracing<{ driver: string }>('ready() checks the backend', 'driver'),
})
TS

write "$dir/src/$name.ts" <<TS
import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { ${noun}Schema, type ${Noun}Settings } from './config.ts'
import { ${Name}Error } from './errors.ts'

export interface ${Noun}Options extends ${Noun}Settings, InstanceOptions {}

/** A ${noun}: create with \`create${Noun}()\`, or use the default \`${noun}()\`. */
export interface ${Noun} extends Instance<InstanceDescription> {
  readonly driver: string
}

/**
 * Builds a ${noun} from options, then \`BEAVER_${SECTION}_*\`, then defaults. Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using ${noun} = create${Noun}()
 */
export function create${Noun}(options: ${Noun}Options = {}): ${Noun} {
  const { envPrefix, env, ...settings } = options
  const resolved = resolveConfig(${noun}Schema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const { driver } = resolved.values
  let closed = false
  const ${noun}: ${Noun} = {
    driver,
    ready: () =>
      traceAsync(
        channels.ready,
        () => ({ driver }),
        async () => {
          if (closed) throw new ${Name}Error('${SECTION}_CLOSED', 'This ${noun} is closed; create a new one.')
        },
      ),
    describe: () => describeInstance('$name', envPrefix, resolved.entries, { driver }),
    close: async () => {
      closed = true
    },
    [Symbol.asyncDispose]: () => ${noun}.close(),
  }
  return ${noun}
}
TS

write "$dir/src/default.ts" <<TS
import { defineDefaultInstance } from '@beaver-kit/core'
import { create${Noun}, type ${Noun}, type ${Noun}Options } from './$name.ts'

const slot = defineDefaultInstance<${Noun}, ${Noun}Options>('$name', create${Noun})

/** The default ${noun}, built on first use from \`BEAVER_${SECTION}_*\`; rethrows its configuration error until fixed. */
export const ${noun}: () => ${Noun} = slot.get
/** Configures the default ${noun} before its first use; throws once it exists. */
export const init${Noun}: (options?: ${Noun}Options) => ${Noun} = slot.init
/** Closes and forgets the default ${noun} (tests); the next \`${noun}()\` builds a new one. */
export const reset${Noun}: () => Promise<void> = slot.reset
/** A new ${noun} configured from another env prefix: \`withPrefix('USER_')\` reads \`USER_${SECTION}_*\`. */
export const withPrefix: (prefix: string, options?: Omit<${Noun}Options, 'envPrefix'>) => ${Noun} = slot.withPrefix
TS

write "$dir/src/index.ts" <<TS
export { create${Noun} } from './$name.ts'
export type { ${Noun}, ${Noun}Options } from './$name.ts'
export { ${noun}, init${Noun}, reset${Noun}, withPrefix } from './default.ts'
export { ${Name}Error, is${Name}Error } from './errors.ts'
export type { ${Name}ErrorCode } from './errors.ts'
export { channels } from './channels.ts'
TS

write "$dir/test/instance.test.ts" <<TS
import { afterEach, describe, expect, it } from 'vitest'
import { create${Noun}, ${noun}, init${Noun}, reset${Noun}, withPrefix } from '@beaver-kit/$name'

describe('the ${noun} instance surface', () => {
  afterEach(() => reset${Noun}())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = ${noun}()
    expect(${noun}()).toBe(first)
    expect(() => init${Noun}()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = create${Noun}({ envPrefix: false }).describe()
    expect(d.package).toBe('$name')
    expect(d.settings.map((s) => s.name)).toContain('${SECTION}_DRIVER')
  })
})
TS

write "$dir/README.md" <<MD
# @beaver-kit/$name

$desc

## Install

\`\`\`sh
npm install @beaver-kit/$name
\`\`\`

## Quick start

Runs as written: CI executes it (see [running the examples](../../README.md#running-the-examples)).

\`\`\`ts run
import { ${noun} } from '@beaver-kit/$name'
import { shutdown } from '@beaver-kit/core'

await ${noun}().ready()
await shutdown()
\`\`\`

## Configuration

<!-- env:start -->
<!-- env:end -->

## Drivers

## API

## Errors

## Diagnostics

<!-- channels:start -->
<!-- channels:end -->

## Recipes

## Benchmark

## Test coverage

<!-- coverage:start -->
<!-- coverage:end -->
MD

echo "scaffolded $dir: run npm install, then npm run docs -- --package $name"
