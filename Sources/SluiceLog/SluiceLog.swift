/// # SluiceLog: storage only
///
/// A partition is a folder of segments. This file states the on-disk format and the invariants that
/// every other file in the module keeps.
///
/// ## Record batches (Kafka's RecordBatch v2, magic 2), byte for byte
///
/// ```
/// baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2) | crc uint32 |
/// attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
/// producerId int64 | producerEpoch int16 | baseSequence int32 | recordCount int32 | records…
/// ```
///
/// All integers are big-endian. `batchLength` counts the bytes after itself. The CRC is CRC-32C over
/// everything from `attributes` to the end of the batch, so the broker can set `baseOffset` when it
/// appends without touching the CRC. Attribute bits 0–2 name the compression of the records section
/// (0 none, 1 gzip). Each record is
///
/// ```
/// length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
/// keyLength varint | key | valueLength varint | value | headerCount varint |
/// (headerKeyLength varint | headerKey | headerValueLength varint | headerValue)*
/// ```
///
/// with zigzag varints, and -1 as the length of a null key, value or header value.
///
/// ## Segments
///
/// A segment is three files named by the 20-digit, zero-padded offset of its first record:
/// `00000000000000000000.log` holds whole batches back to back; `.index` is a sparse offset index of
/// 8-byte entries (offset relative to the base as uint32, byte position as uint32), one every
/// `index_interval_bytes` of log; `.timeindex` holds 12-byte entries (max timestamp int64, relative
/// offset uint32). The last segment is the active one and takes appends; the others are closed.
/// An empty active segment still carries its base offset in its name, so offsets are never reused,
/// even after retention deleted every record before them.
///
/// ## Invariants and recovery
///
/// - Offsets in a partition are dense and increasing: each batch starts at the previous batch's last
///   offset plus one.
/// - The `.log` files are the truth; the indexes are hints. On open the active segment is read batch
///   by batch (length, magic, offset continuity, CRC). A torn tail, what an interrupted append leaves
///   (a prefix of the batch being written, which carries the next offset and a length past the end of
///   the file, or zeros, with no valid batch after them), is cut off and reported, and the cut bytes
///   are kept in `SEGMENT.log.torn`. Anything else that fails, in the active or
///   a closed segment, is corruption: opening throws an error naming the file and the byte, and
///   changes nothing, because cutting there would lose the records after it. Closed segments are
///   never modified. Indexes that do not match their log are rebuilt rather than trusted.
/// - A log that exists always has at least one segment; a folder without one is an error, not an
///   empty log.
/// - Retention deletes whole closed segments, oldest first, and moves the log start offset.
