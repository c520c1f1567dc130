-- Version 9 (issue 8): the 64-bit average hash of each reference photo,
-- computed by the face-quality gate at upload (`media::quality::average_hash`,
-- the bits stored as a signed integer). Photos whose hashes are a few bits
-- apart look nearly the same; when all of an avatar's photos do, the bot
-- suggests variety once. NULL for photos uploaded before this version.
ALTER TABLE reference_photos ADD COLUMN ahash INTEGER;
