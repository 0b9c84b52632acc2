// The database conformance suite: every @beaver-kit/database driver runs all of it against
// its real server (or file). The cases are grouped by concern in ./database/.
import { defineConformanceSuite } from './conformance.ts'
import { migrationCases } from './database/migrations.ts'
import { poolCases } from './database/pool.ts'
import { queryCases } from './database/queries.ts'
import type { DatabaseSuiteOptions, DatabaseUnderTest } from './database/subject.ts'
import { transactionCases } from './database/transactions.ts'

export type { DatabaseSuiteOptions, DatabaseUnderTest, TransactionUnderTest } from './database/subject.ts'

/**
 * The database conformance suite: every driver runs all of it against a real server (or file).
 * @example describeDatabaseDriver('postgres', (ns) => createDatabase({ url }), { locking: 'rows', ... })
 */
export const describeDatabaseDriver = defineConformanceSuite<DatabaseUnderTest, DatabaseSuiteOptions>(
  'database',
  (ctx) => {
    queryCases(ctx)
    transactionCases(ctx)
    poolCases(ctx)
    migrationCases(ctx)
  },
)
