import type { Visibility } from './driver.ts'

// Azure metadata names must be C# identifiers (no "-", no leading digit). Kit names are
// lowercase letters, digits and "-" (never "_"), so "m_" + name with "-" as "_" maps back
// exactly, and cannot meet the visibility entry.
const VISIBILITY = 'beaver_visibility'
const PREFIX = 'm_'

/** Custom metadata and visibility as Azure metadata entries. */
export function toStoredMetadata(
  metadata: Readonly<Record<string, string>> | undefined,
  visibility: Visibility,
): Record<string, string> {
  const stored: Record<string, string> = { [VISIBILITY]: visibility }
  for (const [name, value] of Object.entries(metadata ?? {})) stored[PREFIX + name.replaceAll('-', '_')] = value
  return stored
}

/** The kit's metadata and visibility back from stored entries (names the kit did not write are left out). */
export function fromStoredMetadata(stored: Readonly<Record<string, string>> | undefined): {
  metadata: Record<string, string>
  visibility: Visibility
} {
  const metadata: Record<string, string> = {}
  let visibility: Visibility = 'private'
  for (const [name, value] of Object.entries(stored ?? {})) {
    const lower = name.toLowerCase()
    if (lower === VISIBILITY) visibility = value === 'public' ? 'public' : 'private'
    else if (lower.startsWith(PREFIX)) metadata[lower.slice(PREFIX.length).replaceAll('_', '-')] = value
  }
  return { metadata, visibility }
}
