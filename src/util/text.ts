/** Text that reaches a terminal or a log. */

/** C0/C1 control characters other than newline and tab, and DEL: what a hostile file name could use to move the cursor or recolour a terminal. */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with every control character but newline and tab written as `\xNN`. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
