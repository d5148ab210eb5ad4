export * from './log';
export * from './errors';
export * from './flags';
export * from './duration';
export * from './app';
export * from './net';
