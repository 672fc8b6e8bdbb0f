import {describe, expect, it} from 'vitest'

import {formatCsv, formatTable} from '../../src/cli/output.js'

describe('output', () => {
  it('aligns a table and counts rows', () => {
    const out = formatTable(
      ['id', 'name'],
      [
        [1, 'alice'],
        [22, null],
      ],
    )
    expect(out.split('\n')).toEqual(['id | name', '---+------', '1  | alice', '22 |', '(2 rows)'])
  })

  it('quotes CSV fields that need it', () => {
    expect(
      formatCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['line\nbreak', null],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",')
  })
})
