/**
 * Which expandable rows of the chat the reader opened (tool calls, diff files), by a key of the
 * row's own. Kept outside the rows, so a row the windowed list unmounts while scrolled away comes
 * back as the reader left it.
 */
const opened = new Map<string, boolean>();

/** Whether the row is open: as the reader left it, else `initial`. */
export function isOpen(key: string, initial = false): boolean {
  return opened.get(key) ?? initial;
}

export function setOpen(key: string, open: boolean): void {
  opened.set(key, open);
}
