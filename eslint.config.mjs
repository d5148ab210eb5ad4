// Lint for every project. The module-boundary rule is the architecture, enforced:
//   type:app  -> type:lib only            (an app never imports another app)
//   type:lib  -> type:lib only            (a lib never imports an app)
//   scope:data-plane    -> data-plane, shared   (the sidecar imports no control-plane code)
//   scope:control-plane -> control-plane, shared
//   scope:shared        -> shared
//   scope:sample        -> shared                (samples/bookinfo uses the runtime only, like any mesh user)
import nx from '@nx/eslint-plugin';

export const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:data-plane', onlyDependOnLibsWithTags: ['scope:data-plane', 'scope:shared'] },
  { sourceTag: 'scope:control-plane', onlyDependOnLibsWithTags: ['scope:control-plane', 'scope:shared'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:sample', onlyDependOnLibsWithTags: ['scope:shared'] },
];

export default [
  { ignores: ['**/dist', '**/node_modules', '**/.nx', 'tmp/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          banTransitiveDependencies: false,
          depConstraints,
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
];
