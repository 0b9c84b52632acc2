import { describe, expect, it } from 'vitest'
import { REDACTED, scrubDriverError, scrubText } from '../src/scrub.ts'
import { DatabaseError, isDatabaseError } from '../src/index.ts'
import { wrapDriverError } from '../src/errors.ts'

describe('server error text scrubbed of echoed values', () => {
  it('scrubs the values MySQL and MariaDB quote, quotes inside included', () => {
    expect(
      scrubText("Duplicate entry 'it's-secret' for key 'users.email'", 'insert into users values (?)', ['email']),
    ).toBe(`Duplicate entry '${REDACTED}' for key 'users.email'`)
    expect(
      scrubText("Incorrect integer value: 'sec'ret' for column `db`.`t`.`n` at row 1", 'insert into t values (?)', []),
    ).toBe(`Incorrect integer value: '${REDACTED}' for column \`db\`.\`t\`.\`n\` at row 1`)
    expect(scrubText("Truncated incorrect DOUBLE value: 'abc'", 'select ?', [])).toBe(
      `Truncated incorrect DOUBLE value: '${REDACTED}'`,
    )
  })

  it("scrubs PostgreSQL's quoted inputs, DETAIL keys and rows, and JSON CONTEXT", () => {
    expect(scrubText('invalid input syntax for type integer: "x"y"', 'select $1::int', [])).toBe(
      `invalid input syntax for type integer: "${REDACTED}"`,
    )
    expect(scrubText('Key (lower(email))=(a@b.c) already exists.', undefined, [])).toBe(
      `Key (lower(email))=(${REDACTED}) already exists.`,
    )
    expect(scrubText('Failing row contains (1, null, secret).', undefined, [])).toBe(
      `Failing row contains (${REDACTED}).`,
    )
    expect(scrubText("JSON data, line 1: secret...\nunnamed portal parameter $1 = '...'", 'insert', [])).toBe(
      `JSON data, line 1: ${REDACTED}\nunnamed portal parameter $1 = '${REDACTED}'`,
    )
  })

  it('keeps what the caller wrote in the statement and the names the classifier found', () => {
    const statement = "select * from t where nope = 'lit'"
    expect(scrubText("Unknown column 'nope' in 'WHERE'", statement, [])).toBe("Unknown column 'nope' in 'WHERE'")
    expect(scrubText('syntax error at or near "selec"', 'selec 1', [])).toBe('syntax error at or near "selec"')
    expect(scrubText('violates unique constraint "t_email_key"', 'insert', ['t_email_key'])).toBe(
      'violates unique constraint "t_email_key"',
    )
    expect(scrubText("it was 'x'", undefined, [])).toBe(`it was '${REDACTED}'`)
  })

  it('scrubs the driver error in place (message, stack, fields, nested causes) and builds the kit error from it', () => {
    const inner = Object.assign(new Error("Duplicate entry 'tok' for key 'k'"), { detail: 'Key (e)=(tok) exists.' })
    const outer = Object.assign(new Error("failed: value 'tok'"), { sqlMessage: "value 'tok'", cause: inner })
    const wrapped = wrapDriverError(outer, { code: 'DB_UNIQUE_VIOLATION', constraint: 'k', driverCode: 1062 }, 'insert')
    expect(isDatabaseError(wrapped, 'DB_UNIQUE_VIOLATION')).toBe(true)
    for (const text of [wrapped.message, outer.message, outer.stack, outer.sqlMessage, inner.message, inner.detail])
      expect(text).not.toContain('tok')
    expect(wrapped.cause).toBe(outer)
    expect(wrapped).toBeInstanceOf(DatabaseError)
    const plain = wrapDriverError("bad value 'tok'", { code: 'DB_QUERY' }, undefined)
    expect(plain.message).not.toContain('tok')
    scrubDriverError(null, undefined, [])
    const frozen = Object.freeze(new Error("value 'tok'"))
    expect(() => scrubDriverError(frozen, undefined, [])).not.toThrow()
  })
})
