// The Node.js entry, `@tensorized/datasets/node`: everything of the main entry, and the parts that
// read files, use the environment and download (node:fs, node:zlib, node:crypto, fetch to disk).
export * from './index.js';
export { readPolyphonicJsonGz } from './read_node.js';
export {
  type LoadOptions,
  type LocateOptions,
  defaultCacheDir,
  downloadOriginal,
  findDatasetFile,
  loadPolyphonic,
  readDatasetFile,
  searchDirs,
} from './registry.js';
