import { listFields, type Schema } from './schema.ts'
import { DEFAULT_PREFIX } from './resolve.ts'

/** Renders a schema's env table as Markdown, for package READMEs (`npm run docs`). */
export function renderEnvTable(schema: Schema, prefix: string = DEFAULT_PREFIX): string {
  const rows = listFields(schema).map(({ suffix, field }) => {
    const names = [`\`${prefix}${suffix}\``, ...field.aliases.map((a) => `\`${a}\``)].join(', ')
    const def = field.required
      ? '*required*'
      : field.defaultText === undefined
        ? ''
        : field.defaultText === ''
          ? '(empty)'
          : `\`${field.defaultText}\``
    const doc = `${field.doc}${field.secret ? ' (secret)' : ''}`
    return `| ${names} | ${field.type} | ${def} | ${escape(field.accepts)} | ${escape(doc)} |`
  })
  return ['| Variable | Type | Default | Accepts | Description |', '| --- | --- | --- | --- | --- |', ...rows].join(
    '\n',
  )
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|')
}
