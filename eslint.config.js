// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Layers of style.md: each may import only the layers listed after it. */
const ourLayers = [
  'commands',
  'cli',
  'config',
  'proxy',
  'audit',
  'auth',
  'control',
  'server',
  'policy',
  'masking',
]
const forbid = (...layers) =>
  layers.flatMap((l) => [
    `**/${l}/*`,
    `../${l}`,
    `../../${l}`,
    `../${l}/*`,
    `../../${l}/*`,
    `../../../${l}/*`,
  ])

const ioModules = [
  'fs',
  'net',
  'http',
  'https',
  'tls',
  'child_process',
  'dgram',
  'dns',
  'os',
  'worker_threads',
]
const noIo = ioModules.flatMap((m) => [m, `node:${m}`, `${m}/*`, `node:${m}/*`])

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'wasm/**']},
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {project: './tsconfig.all.json', tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-console': 'error',
    },
  },
  {
    files: ['src/**'],
    ignores: ['src/cli/main.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {object: 'process', property: 'exit', message: 'Only the top level exits: throw a DbgateError.'},
      ],
    },
  },
  {
    files: ['src/policy/**', 'src/masking/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: forbid(...ourLayers.filter((l) => l !== 'policy' && l !== 'masking')),
              message: 'policy and masking are pure: they import nothing else of ours.',
            },
            {group: noIo, message: 'policy and masking are pure: no fs, net or process I/O.'},
          ],
        },
      ],
      'no-restricted-globals': ['error', {name: 'process', message: 'policy is pure: no env, no process.'}],
      'no-restricted-properties': [
        'error',
        {object: 'Date', property: 'now', message: 'policy is pure: pass the time in.'},
        {object: 'Math', property: 'random', message: 'policy is pure: pass randomness in.'},
        {object: 'process', property: 'exit', message: 'Only the top level exits.'},
      ],
    },
  },
  {
    files: ['src/proxy/**', 'src/audit/**', 'src/auth/**', 'src/control/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: forbid('commands', 'cli', 'config', 'server'),
              message: 'Imports flow commands → cli/config → proxy/audit/auth/control → policy/masking.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**', 'src/config/**', 'src/server/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {patterns: [{group: forbid('commands'), message: 'Nothing imports commands.'}]},
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    files: ['eslint.config.js', 'vitest.config.ts', 'scripts/**'],
    ...tseslint.configs.disableTypeChecked,
  },
)
