/** Dates and spans as checks print them: whole days, and ISO 8601 to the second. */

export const days = (ms: number) => Math.floor(ms / 86_400_000);
export const isoDay = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
