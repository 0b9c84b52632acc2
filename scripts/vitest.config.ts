import { defineProject } from 'vitest/config'
import { projectConfig } from '../vitest.shared.ts'

// The repository's own machinery (README runner, release check, coverage gate, cycle check).
export default defineProject(projectConfig('scripts'))
