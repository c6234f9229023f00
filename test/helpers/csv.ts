/**
 * A small RFC 4180 parser (quoted fields, doubled quotes, CRLF line ends), written for the tests, independent of the
 * exporters it checks. A last line without its CRLF is kept; `endedWithCrlf` tells whether the text ended with one.
 */
export function parseCsv(text: string): { rows: string[][]; endedWithCrlf: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += ch;
  }
  const endedWithCrlf = field === '' && row.length === 0;
  if (!endedWithCrlf) row.push(field), rows.push(row);
  return { rows, endedWithCrlf };
}
