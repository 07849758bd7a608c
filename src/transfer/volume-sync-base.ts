// The base an incremental sync sends against. The target describes the copy it holds (a manifest of its own files:
// its stats, and content digests it re-reads where its stat moved since it last described it). The source kept, from
// its last send to that copy, a manifest of its own files as they were sent. Merged, per path:
//   - the target holds exactly what the source kept as sent (same type, content digest, size, times, owner, mode,
//     extended attributes, link target): the source's kept entry is the base, so the sync reads that file only when
//     its stat moved since, or it is racily clean or hot — the warm rounds' rule, on the source's own stats;
//   - anything else: the target's entry, marked dirty, so the source reads its file and sends the blocks that differ
//     from the target's digests (a metadata-only patch when only attributes differ).
// Paths the target lacks are not in the base (sent whole); paths only the target has are in it (deleted there).
// Trusting a kept entry needs both halves: the target's digest says what the copy holds now, the source's stat what
// the source holds now. Keeping a send that the target then failed to apply is therefore harmless: its digests no
// longer match what the target describes, and those files are compared.
import type { Manifest, ManifestEntry } from './volume-manifest.js';

export interface MergedBase {
  base: Manifest;
  /** Entries taken from what the source kept as sent. */
  trusted: number;
  /** Entries the source compares by content (or re-sends: symlinks, devices). */
  compared: number;
}

/**
 * Whether the target's entry describes exactly what the source's kept entry says was sent (or, between two
 * descriptions of one copy, whether the later one holds what the earlier did).
 */
export function holdsWhatWasSent(sent: ManifestEntry, target: ManifestEntry): boolean {
  if (
    sent.type !== target.type ||
    sent.mode !== target.mode ||
    sent.uid !== target.uid ||
    sent.gid !== target.gid ||
    !sent.xattrDigest.equals(target.xattrDigest)
  )
    return false;
  switch (sent.type) {
    case 'file':
      return (
        !sent.dirty &&
        !target.dirty &&
        sent.size === target.size &&
        sent.mtimeNs === target.mtimeNs &&
        sent.digest !== undefined &&
        target.digest !== undefined &&
        sent.digest.equals(target.digest)
      );
    case 'symlink':
      return sent.linkTarget === target.linkTarget;
    case 'character-device':
    case 'block-device':
      return sent.rdev === target.rdev;
    case 'directory':
    case 'fifo':
      return true;
  }
}

/**
 * The base for an incremental sync from the target's description of its copy and what the source kept of its last
 * send to that copy (none: every entry is compared).
 */
export function mergeBase(target: Manifest, sent: Manifest | undefined): MergedBase {
  const base: Manifest = new Map();
  let trusted = 0;
  let compared = 0;
  for (const [path, entry] of target) {
    const kept = sent?.get(path);
    if (kept !== undefined && holdsWhatWasSent(kept, entry)) {
      base.set(path, kept);
      trusted += 1;
    } else {
      // The target's stats never match the source's files: dirty makes the source read and compare it anyway.
      base.set(path, { ...entry, dirty: true });
      compared += 1;
    }
  }
  return { base, trusted, compared };
}
