import pino from 'pino'
import type { LogConfig } from '../config.ts'
import { LEVEL_VALUES, type Level } from '../levels.ts'
import { SinkOutput } from './sink.ts'
import { parseOutputSpec, type Format, type OutputSpec } from './spec.ts'
import { StreamOutput } from './stream.ts'
import { SyslogOutput, type Facility } from './syslog.ts'
import { TextOutput, wantsColor } from './text.ts'
import type { LogSink, Output } from './types.ts'

const NEEDS_METADATA = pino.symbols.needsMetadataGsym

/** An output with the lowest level it takes. */
export interface Target {
  output: Output
  min: number
}

/** Builds every output of a configuration; on a failure the ones already opened are closed. */
export function buildTargets(config: LogConfig, sinks: readonly LogSink[]): Target[] {
  const targets: Target[] = []
  try {
    for (const text of config.outputs) targets.push(buildTarget(parseOutputSpec(text), config))
    sinks.forEach((sink, i) => {
      const output: Output = new SinkOutput(sink, i)
      const format = sink.format ?? config.format
      targets.push({ output: format === 'text' ? new TextOutput(output, false) : output, min: minOf(sink.level) })
    })
  } catch (err) {
    for (const t of targets) void t.output.close().catch(() => undefined)
    throw err
  }
  return targets
}

function minOf(level: Level | undefined): number {
  return level === undefined ? 0 : LEVEL_VALUES[level]
}

function buildTarget(spec: OutputSpec, config: LogConfig): Target {
  const format: Format = spec.format ?? config.format
  let output: Output
  let colorTarget: 'stdout' | 'stderr' | 'file' | 'syslog'
  if (spec.kind === 'syslog') {
    colorTarget = 'syslog'
    output = new SyslogOutput({
      transport: spec.transport,
      host: spec.host,
      port: spec.port,
      path: spec.path,
      facility: (spec.facility ?? config.syslog.facility) as Facility,
      appName: spec.appName ?? config.syslog.appName ?? config.name ?? process.title,
      hostname: spec.hostname ?? config.syslog.hostname,
      structuredData: config.syslog.structuredData,
      framing: spec.framing,
      maxBuffer: config.syslog.maxBuffer,
      closeTimeout: config.syslog.closeTimeout,
    })
  } else {
    colorTarget = spec.kind === 'file' ? 'file' : spec.kind
    output = new StreamOutput({
      target: spec.kind === 'file' ? { path: spec.path } : spec.kind,
      mode: spec.mode ?? config.mode,
      buffer: spec.buffer ?? config.buffer,
      maxSize: spec.kind === 'file' ? (spec.maxSize ?? config.file.maxSize) : undefined,
      interval: spec.kind === 'file' ? (spec.interval ?? config.file.interval) : undefined,
      maxFiles: spec.kind === 'file' ? (spec.maxFiles ?? config.file.maxFiles) : undefined,
    })
  }
  if (format === 'text') output = new TextOutput(output, wantsColor(colorTarget), output instanceof SyslogOutput)
  return { output, min: minOf(spec.level) }
}

/** Whether an output wants pino's per-line metadata (the level, for syslog severity). */
function needsLevel(output: Output): boolean {
  return output instanceof SyslogOutput || (output instanceof TextOutput && output.needsLevel)
}

/**
 * What pino writes to: the output itself when there is one without a level of its own, so the
 * common case costs exactly what bare pino costs; otherwise a fan-out that filters by level.
 */
export function destinationFor(targets: readonly Target[]): pino.DestinationStream {
  const only = targets.length === 1 ? targets[0] : undefined
  if (only !== undefined && only.min === 0) {
    if (needsLevel(only.output)) (only.output as unknown as Record<symbol, boolean>)[NEEDS_METADATA] = true
    return only.output
  }
  return new FanOut(targets)
}

class FanOut {
  lastLevel = 30
  readonly [NEEDS_METADATA] = true
  private readonly targets: readonly Target[]
  constructor(targets: readonly Target[]) {
    this.targets = targets
  }
  write(line: string): void {
    const level = this.lastLevel
    for (const t of this.targets) {
      if (level >= t.min) {
        t.output.lastLevel = level
        t.output.write(line)
      }
    }
  }
}
