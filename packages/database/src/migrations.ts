export class Migrator {}
export function createMigrator(): Migrator {
  return new Migrator()
}
export type Migration = unknown
export type MigrationPlan = unknown
export type MigrationStatus = unknown
export type MigratorOptions = unknown
