import { describe, expect, it } from 'vitest'
import { at, createScheduler, cron, every, isSchedulerError, presetNames } from '@beaver-kit/scheduler'

const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString())

function preview(
  when: Parameters<ReturnType<typeof createScheduler>['schedule']>[1],
  from: string,
  n: number,
  options = {},
) {
  const s = createScheduler({ envPrefix: false })
  const job = s.schedule('preview', when, () => undefined, options)
  const out = iso(job.nextRuns(n, new Date(from)))
  void s.close()
  return out
}

describe('DST: a time in the gap runs once right after it; a repeated time runs once', () => {
  const cases: Array<[string, string, string, string[]]> = [
    // zone, expression, from, expected (UTC)
    [
      'America/New_York',
      '30 2 * * *',
      '2026-03-07T12:00:00Z',
      ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'],
    ],
    [
      'America/New_York',
      '30 1 * * *',
      '2026-10-31T12:00:00Z',
      ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    ],
    ['Europe/Berlin', '0 30 2 * * *', '2026-03-28T12:00:00Z', ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']],
    ['Europe/Berlin', '0 30 2 * * *', '2026-10-24T12:00:00Z', ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
    [
      'Australia/Sydney',
      '30 2 * * *',
      '2026-10-03T00:00:00Z',
      ['2026-10-03T16:00:00.000Z', '2026-10-04T15:30:00.000Z'],
    ],
    [
      'Australia/Sydney',
      '30 2 * * *',
      '2026-04-04T00:00:00Z',
      ['2026-04-04T15:30:00.000Z', '2026-04-05T16:30:00.000Z'],
    ],
    // Lord Howe moves by 30 minutes.
    [
      'Australia/Lord_Howe',
      '15 2 * * *',
      '2026-10-03T00:00:00Z',
      ['2026-10-03T15:30:00.000Z', '2026-10-04T15:15:00.000Z'],
    ],
  ]
  it.each(cases)('%s %s from %s', (zone, expression, from, expected) => {
    expect(preview(cron(expression, zone), from, 2)).toEqual(expected)
  })

  it('a fixed list of hours is fixed-time too; wildcard/step jobs run in elapsed time', () => {
    // 1:00 and 1:30 happen twice on 2026-11-01 in New York: a */30 job runs on both passes.
    expect(preview(cron('*/30 1 * * *', 'America/New_York'), '2026-11-01T04:00:00Z', 4)).toEqual([
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T06:30:00.000Z',
    ])
    expect(preview(cron('30 1,13 * * *', 'America/New_York'), '2026-11-01T04:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T18:30:00.000Z',
    ])
  })
})

describe('cron expressions, presets and the fluent builder', () => {
  it('reads seconds, L, W and # through croner', () => {
    expect(preview('*/20 * * * * *', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ])
    expect(preview('0 0 12 LW * *', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2026-01-30T12:00:00.000Z',
      '2026-02-27T12:00:00.000Z',
    ])
    expect(preview('0 9 * * 1#2', '2026-01-01T00:00:00Z', 1, { timezone: 'Europe/Paris' })).toEqual([
      '2026-01-12T08:00:00.000Z',
    ])
    expect(preview('0 0 L * *', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-28T00:00:00.000Z'])
  })

  it('gives every UTC alias the same occurrences, and keeps bounds per schedule when schedules share an expression', () => {
    const from = '2026-03-29T00:59:58Z' // Europe's spring-forward hour: UTC has none
    const utc = preview('0 * * * *', from, 3, { timezone: 'UTC' })
    expect(utc).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T03:00:00.000Z'])
    for (const zone of ['Etc/UTC', 'GMT', 'Etc/GMT', 'Zulu'])
      expect(preview('0 * * * *', from, 3, { timezone: zone })).toEqual(utc)
    // A named zone with DST on the same expression stays a named zone.
    expect(preview('0 2 * * *', '2026-03-28T12:00:00Z', 1, { timezone: 'Europe/Berlin' })).toEqual([
      '2026-03-29T01:00:00.000Z',
    ])
    // Same expression and zone, so one shared parse with its last answers kept: the bounds of
    // each schedule still apply to its own occurrences only.
    const s = createScheduler({ envPrefix: false })
    const bounded = s.schedule('bounded', '* * * * * *', () => undefined, { endAt: new Date('2026-01-01T00:00:02Z') })
    const open = s.schedule('open', '* * * * * *', () => undefined)
    const start = new Date('2026-01-01T00:00:00Z')
    expect(iso(bounded.nextRuns(5, start))).toEqual(['2026-01-01T00:00:01.000Z'])
    expect(iso(open.nextRuns(3, start))).toEqual([
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:03.000Z',
    ])
    expect(iso(bounded.nextRuns(5, start))).toEqual(['2026-01-01T00:00:01.000Z'])
    void s.close()
  })

  it('knows the presets', () => {
    expect(presetNames()).toContain('@daily')
    expect(preview('@hourly', '2026-01-01T00:10:00Z', 1)).toEqual(['2026-01-01T01:00:00.000Z'])
    expect(preview('@daily', '2026-01-01T00:10:00Z', 1)).toEqual(['2026-01-02T00:00:00.000Z'])
    expect(preview('@weekly', '2026-01-01T00:10:00Z', 1)).toEqual(['2026-01-04T00:00:00.000Z'])
    expect(preview('@monthly', '2026-01-01T00:10:00Z', 1)).toEqual(['2026-02-01T00:00:00.000Z'])
    expect(preview('@yearly', '2026-01-01T00:10:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z'])
  })

  it('every(1).day().at() and weekdays in a zone', () => {
    expect(preview(every(1).day().at('09:00'), '2026-01-01T10:00:00Z', 2)).toEqual([
      '2026-01-02T09:00:00.000Z',
      '2026-01-03T09:00:00.000Z',
    ])
    expect(preview(every(1).monday().at('07:30').in('Europe/Berlin'), '2026-01-01T00:00:00Z', 1)).toEqual([
      '2026-01-05T06:30:00.000Z',
    ])
    expect(preview(every(1).week(), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-04T00:00:00.000Z'])
    expect(preview(every(1).day().at('23:59:30'), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T23:59:30.000Z'])
  })

  it('every("5m") runs in wall-clock slots; anchor "start" counts from startAt', () => {
    expect(preview(every('5m'), '2026-01-01T00:03:10Z', 2)).toEqual([
      '2026-01-01T00:05:00.000Z',
      '2026-01-01T00:10:00.000Z',
    ])
    expect(preview(every(5).minutes(), '2026-01-01T00:03:10Z', 1)).toEqual(['2026-01-01T00:05:00.000Z'])
    expect(preview(every(2).hours(), '2026-01-01T00:03:10Z', 1)).toEqual(['2026-01-01T02:00:00.000Z'])
    expect(preview(every(30).seconds(), '2026-01-01T00:00:10Z', 1)).toEqual(['2026-01-01T00:00:30.000Z'])
    const start = '2026-01-01T00:03:10.000Z'
    expect(preview(every('5m', { anchor: 'start' }), '2026-01-01T00:00:00Z', 2, { startAt: start })).toEqual([
      '2026-01-01T00:03:10.000Z',
      '2026-01-01T00:08:10.000Z',
    ])
    expect(preview(every('5m').anchoredTo('start'), '2026-01-01T00:04:00Z', 1, { startAt: start })).toEqual([
      '2026-01-01T00:08:10.000Z',
    ])
  })

  it('at(date) runs once; startAt, endAt and maxRuns bound the occurrences', () => {
    expect(preview(at('2026-06-01T12:00:00Z'), '2026-01-01T00:00:00Z', 3)).toEqual(['2026-06-01T12:00:00.000Z'])
    expect(preview(new Date('2026-06-01T12:00:00Z'), '2026-07-01T00:00:00Z', 3)).toEqual([])
    expect(
      preview('@hourly', '2026-01-01T00:00:00Z', 5, { startAt: '2026-01-01T02:30:00Z', endAt: '2026-01-01T05:00:00Z' }),
    ).toEqual(['2026-01-01T03:00:00.000Z', '2026-01-01T04:00:00.000Z'])
    expect(preview('@hourly', '2025-12-31T22:30:00Z', 5, { startAt: '2026-01-01T00:00:00Z', maxRuns: 2 })).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T01:00:00.000Z',
    ])
  })
})

describe('bad input fails at registration, naming the input', () => {
  const s = createScheduler({ envPrefix: false })
  const noop = () => undefined
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn()
    } catch (error) {
      if (isSchedulerError(error)) return `${error.code}: ${error.message}`
      throw error
    }
    return undefined
  }

  it('refuses an invalid cron expression with the expression and the problem', () => {
    expect(code(() => s.schedule('a', '61 * * * *', noop))).toMatch(/SCHEDULER_CRON_INVALID.*"61 \* \* \* \*".*minute/)
    expect(code(() => s.schedule('a', 'every day', noop))).toMatch(/SCHEDULER_CRON_INVALID/)
  })

  it('refuses an unknown time zone', () => {
    expect(code(() => s.schedule('a', '* * * * *', noop, { timezone: 'Mars/Olympus' }))).toMatch(
      /SCHEDULER_TIMEZONE_INVALID.*Mars\/Olympus/,
    )
    expect(code(() => s.schedule('a', cron('* * * * *', 'Europe/Atlantis'), noop))).toMatch(/Europe\/Atlantis/)
    expect(() => createScheduler({ envPrefix: false, timezone: 'Nowhere/City' }).schedule('x', '@daily', noop)).toThrow(
      /Nowhere\/City/,
    )
  })

  it('refuses maxCatchup, maxRuns, policies and dates out of range', () => {
    expect(code(() => s.schedule('a', '@daily', noop, { maxCatchup: 0 }))).toMatch(/maxCatchup.*0.*1 to 1000/)
    expect(code(() => s.schedule('a', '@daily', noop, { maxCatchup: 5000 }))).toMatch(/maxCatchup/)
    expect(code(() => s.schedule('a', '@daily', noop, { maxRuns: -1 }))).toMatch(/maxRuns/)
    expect(code(() => s.schedule('a', '@daily', noop, { missed: 'some' as 'all' }))).toMatch(/missed.*skip, once, all/)
    expect(code(() => s.schedule('a', '@daily', noop, { overlap: 'x' as 'skip' }))).toMatch(/overlap/)
    expect(code(() => s.schedule('a', '@daily', noop, { startAt: 'soon' }))).toMatch(/startAt.*not a date/)
    expect(code(() => s.schedule('bad name!', '@daily', noop))).toMatch(/name/)
    expect(code(() => s.schedule('a', '@daily', 'x' as never))).toMatch(/handler/)
    expect(code(() => at('tomorrow'))).toMatch(/not a date/)
    expect(code(() => every('soon' as '5m'))).toMatch(/not a duration/)
    expect(code(() => every('10ms'))).toMatch(/at least 1s/)
    expect(code(() => every(0))).toMatch(/at least 1/)
    expect(code(() => every(2).day())).toMatch(/every\(2\)\.day\(\)/)
    expect(code(() => every(1).day().at('25:00'))).toMatch(/"25:00"/)
  })

  it('refuses two schedules with the same name, and unknown names in controls', async () => {
    const t = createScheduler({ envPrefix: false })
    t.schedule('dup', '@daily', noop)
    expect(code(() => t.schedule('dup', '@hourly', noop))).toMatch(/SCHEDULER_DUPLICATE.*"dup"/)
    expect(code(() => t.nextRuns('nope', 1))).toMatch(/SCHEDULER_NOT_FOUND.*"nope".*dup/)
    await t.close()
    expect(code(() => t.schedule('later', '@daily', noop))).toMatch(/SCHEDULER_CLOSED/)
  })
})
