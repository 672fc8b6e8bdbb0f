import {describe, expect, it} from 'vitest'

import {describeUploadFailure, UploadStatus} from '../../src/cli/audit-upload.js'
import {ControlPlaneError, OAuthError} from '../../src/control/errors.js'
import {NotLoggedInError, UnreachableError} from '../../src/errors.js'

describe('audit upload status lines', () => {
  it.each([
    [
      new UnreachableError('the control plane at http://cp:1', 'ECONNREFUSED'),
      'cannot reach the control plane at http://cp:1: ECONNREFUSED',
    ],
    [
      new ControlPlaneError(401, 'unauthorized', 'token eyJsecret expired'),
      'the control plane refused the credentials (HTTP 401, unauthorized)',
    ],
    [
      new ControlPlaneError(403, 'forbidden', 'device d1 belongs to another identity'),
      'the control plane refused the upload (HTTP 403, forbidden)',
    ],
    [new ControlPlaneError(503, 'unavailable', 'down'), 'the control plane failed (HTTP 503)'],
    [
      new ControlPlaneError(409, 'conflict', "seq 3 'select secret'"),
      'the control plane refused the batch (HTTP 409, conflict)',
    ],
    [
      new OAuthError(400, 'invalid_grant', 'refresh token rt_secret revoked'),
      'renewing the access token was refused (invalid_grant)',
    ],
    [
      new NotLoggedInError(),
      'the control plane refused the credentials (HTTP 401: not logged in, or the session expired)',
    ],
    [new Error('select ssn from users'), 'an unexpected error'],
  ])('names %s without its free text', (err, text) => {
    expect(describeUploadFailure(err)).toBe(text)
  })

  it('prints one line when uploads start failing, none per retry, one when they recover', () => {
    const lines: string[] = []
    const s = new UploadStatus((l) => lines.push(l))
    s.succeeded()
    const down = new ControlPlaneError(502, 'bad_gateway', 'x')
    s.failed(down)
    s.failed(down)
    s.failed(new ControlPlaneError(401, 'unauthorized', 'x'))
    expect(lines).toEqual([
      'dbgate: audit upload failed: the control plane failed (HTTP 502). The events stay in the local spool and are retried in the background; statements keep running.',
    ])
    s.succeeded()
    s.succeeded()
    s.failed(down)
    expect(lines.slice(1)).toEqual([
      'dbgate: audit uploads to the control plane work again; the spooled events are being sent.',
      expect.stringContaining('audit upload failed'),
    ])
  })
})
