/** The hash style's key both engines use when the configuration gives none. */
import {randomBytes} from 'node:crypto'

import type {MaskKey} from '../masking/index.js'

/**
 * The hash style's key when the configuration gives none: random per process, so hashed values join
 * within one run of dbgate only.
 */
export const PROCESS_MASK_KEY: MaskKey = randomBytes(32)
