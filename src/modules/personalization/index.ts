/**
 * Personalization (embosser) files for the card bureau: records encrypted by the security module
 * (`personalizationRecord`), batched per organization and logo into files with a header, a
 * trailer (record count, SHA-256) and an optional PGP layer, written to a store (a folder); list,
 * read and re-export files; decode a file with the bureau's keys. Format: docs/personalization.md.
 */
export {
  PersonalizationFileWriter,
  type PersonalizationWriterOptions, type PersonalizationBatch, type WrittenPersonalizationFile, type PersonalizationFileInfo,
} from './writer.ts';
export { FolderFileStore, type PersonalizationFileStore, type StoredFileInfo } from './store.ts';
export {
  decodePersonalizationFile, decryptPersonalizationRecord, bureauKeyCheckValue,
  type BureauKey, type DecodeOptions, type DecodedRecord, type DecodedPersonalizationFile, type PersonalizationRecordFields,
} from './decoder.ts';
export {
  PersonalizationFileError, FILE_FORMAT, FILE_FORMAT_VERSION, buildPersonalizationFile, encodePersonalizationFile, parsePersonalizationFile,
  personalizationFileName, parsePersonalizationFileName,
  type PersonalizationFileErrorCode, type PersonalizationFileHeader, type PersonalizationFileLine, type PersonalizationFileTrailer,
  type ParsedFileName,
} from './file-format.ts';
export {
  PersonalizationOutbox, MAX_RECORDS_PER_FILE, splitName, outboxRecord, recordsInsertFrom, massFileOf, type PlasticRequest, type OutboxRecord, type MassPositionIssued, type WrittenFile, type MassFile,
} from './outbox.ts';
