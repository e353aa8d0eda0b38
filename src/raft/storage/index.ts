export { crc32c } from "./crc32c.js";
export { LevelLogStore, type LevelLogStoreOptions } from "./level-log-store.js";
export {
  FileSnapshotStore,
  SnapshotFileError,
  readSnapshotFile,
  snapshotFileName,
  type FileSnapshotStoreOptions,
} from "./file-snapshot-store.js";
