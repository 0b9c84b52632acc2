#!/usr/bin/env bash
# Scaffolds packages/<name> with the kit's layout: package.json with source/dist exports,
# tsconfig.build.json, vitest.config.ts. Usage: scripts/new-package.sh <name> "<description>"
set -euo pipefail
name=$1; desc=$2
dir=packages/$name
mkdir -p "$dir/src" "$dir/test"
[ -f "$dir/package.json" ] || cat > "$dir/package.json" <<JSON
{
  "name": "@beaver-kit/$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "sideEffects": false,
  "engines": { "node": ">=22.12" },
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
  }
}
JSON
[ -f "$dir/tsconfig.build.json" ] || cat > "$dir/tsconfig.build.json" <<JSON
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
[ -f "$dir/vitest.config.ts" ] || cat > "$dir/vitest.config.ts" <<TS
import { defineProject } from 'vitest/config'
import { projectConfig } from '../../vitest.shared.ts'

export default defineProject(projectConfig('$name'))
TS
echo "scaffolded $dir"
