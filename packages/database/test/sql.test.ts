import { describe, expect, it } from 'vitest'
import { quoteIdentifier, sql } from '../src/index.ts'

describe('sql tag', () => {
  it('binds every value as a parameter with the dialect placeholders', () => {
    const q = sql`select * from t where a = ${1} and b = ${'x'}`
    expect(q.compile('postgres')).toEqual({ text: 'select * from t where a = $1 and b = $2', values: [1, 'x'] })
    expect(q.compile('mysql')).toEqual({ text: 'select * from t where a = ? and b = ?', values: [1, 'x'] })
  })

  it('never puts a hostile value into the text', () => {
    const evil = "'; drop table users; --"
    const { text, values } = sql`select ${evil}`.compile('sqlite')
    expect(text).toBe('select ?')
    expect(values).toEqual([evil])
  })

  it('nests fragments, lists, identifiers, raw text and JSON', () => {
    const where = sql`status in (${sql.list(['a', 'b'])})`
    const q = sql`select ${sql.raw('count(*)')} from ${sql.id('app', 'my"t')} where ${where} and id = ${7} and doc = ${sql.json([1, 2])}`
    expect(q.compile('postgres')).toEqual({
      text: 'select count(*) from "app"."my""t" where status in ($1, $2) and id = $3 and doc = $4',
      values: ['a', 'b', 7, '[1,2]'],
    })
    expect(q.compile('mysql').text).toBe(
      'select count(*) from `app`.`my"t` where status in (?, ?) and id = ? and doc = ?',
    )
  })

  it('joins fragments and values, and keeps empty fragments empty', () => {
    const cols = sql.join([sql.id('a'), sql.id('b')])
    expect(sql`select ${cols} from t${sql.empty}`.compile('postgres').text).toBe('select "a", "b" from t')
    expect(sql.join([1, 2], sql` or `).compile('postgres')).toEqual({ text: '$1 or $2', values: [1, 2] })
    expect(sql.join([]).compile('postgres').text).toBe('')
  })

  it('refuses identifiers no quoting makes safe: empty, or with NUL', () => {
    expect(() => sql.id('users\0; drop table x')).toThrow(/NUL/)
    expect(() => sql.id('')).toThrow(/non-empty/)
    expect(() => sql.id()).toThrow(/at least one/)
    expect(() => quoteIdentifier('a\0b', 'postgres')).toThrow(/NUL/)
    expect(quoteIdentifier('a"b', 'postgres')).toBe('"a""b"')
  })

  it('refuses an empty list instead of producing invalid SQL', () => {
    expect(() => sql.list([])).toThrow(/empty list/)
  })

  it('prints with ? placeholders and never the values', () => {
    expect(String(sql`select ${'secret'}`)).toBe('select ?')
  })
})
