// Text that is safe to print or embed: control characters shown as \xNN escapes. Scenario
// files are untrusted: what they say reaches a terminal, a report or a log only through these.

const hex = (code: number): string => `\\x${code.toString(16).padStart(2, '0')}`;

/**
 * Control characters other than tab shown as escapes, so a stray `\r`, an ESC, a C1 control, a
 * bidirectional override or a line separator cannot garble a terminal or forge a line.
 */
export function visibleControls(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100 ? hex(code) : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * What XML 1.0 cannot carry (C0 controls other than tab, LF and CR; lone surrogates; U+FFFE and
 * U+FFFF) replaced by a visible `\xNN` / `\uNNNN` escape: a reader still sees that it was there.
 */
export function xml10Safe(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (ch) => {
      const code = ch.charCodeAt(0);
      return code < 0x20 ? hex(code) : `\\u${code.toString(16).padStart(4, '0')}`;
    },
  );
}

/** Text content: `&`, `<`, `>` escaped; forbidden characters replaced. */
export function xmlText(text: string): string {
  return xml10Safe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An attribute value in double quotes: also `"`, and tab/LF/CR as references so they survive attribute normalisation. */
export function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}
