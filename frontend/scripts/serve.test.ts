import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { translateArgs, viteArgs } from './serve.mjs';

describe('serve.mjs', () => {
  it("turns the seed's PM2 flags into Vite's", () => {
    expect(translateArgs(['--hostname', '0.0.0.0', '--port', '3001'])).toEqual(['--host', '0.0.0.0', '--port', '3001']);
    expect(translateArgs(['--hostname=0.0.0.0'])).toEqual(['--host=0.0.0.0']);
    expect(translateArgs(['--hostname'])).toEqual(['--host']);
  });
  it('previews dist/ on FRONT_PORT, defaulting to 3001', () => {
    expect(viteArgs('preview', [], {})).toEqual(['preview', '--port', '3001', '--strictPort']);
    expect(viteArgs('preview', ['--hostname', '127.0.0.1'], { FRONT_PORT: '44001' })).toEqual(['preview', '--host', '127.0.0.1', '--port', '44001', '--strictPort']);
    expect(viteArgs('preview', ['--port', '5000'], { FRONT_PORT: '44001' })).toEqual(['preview', '--port', '5000', '--strictPort']);
  });
  it('rejects an unknown mode by name', () => {
    expect(() => viteArgs('serve', [], {})).toThrow(/unknown mode "serve"/);
  });
});
