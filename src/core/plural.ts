// Counts in messages with the right noun: "1 file", "2 files", never "1 files".

/** "1 volume", "3 volumes", "2 entries": the count with its noun, singular only for exactly one. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${String(count)} ${count === 1 ? one : many}`;
}
