-- The audit log, in a database of its own: `<database>_audit`.
--
-- It holds the hash-chained audit trail (audit.exchanges) as the projector reads it, national numbers
-- included (the citizen's "who received what about me" needs them): it is NOT part of the statistics
-- database, and the local server's read-only `auditor` user may read this database and nothing else
-- (streams/stack/templates/clickhouse-users.xml; 18.16 has no SQL grants, users live in users.xml).

CREATE DATABASE IF NOT EXISTS {database}_audit;

CREATE TABLE IF NOT EXISTS {database}_audit.audit_records
(
    audit_id      String           COMMENT 'deterministic id of the exchange (a replayed entry keeps it)',
    kind          String           COMMENT 'DELIVERY, REFUSAL, CONSULTATION_GRANTED or CONSULTATION_REFUSED',
    ticket        String           COMMENT 'ticket of the notification or reply',
    source_ticket Nullable(String) COMMENT 'ticket of the fact or request it answers',
    actor         String           COMMENT 'institution or employer (enterprise number)',
    person        String           COMMENT 'NISS of the person concerned',
    data_type     String           COMMENT 'data type exchanged',
    legal_basis   Nullable(String) COMMENT 'deliberation reference for deliveries and granted consultations',
    reason        Nullable(String) COMMENT 'reason of a refusal',
    recorded_at   DateTime         COMMENT 'when the exchange happened (UTC, seconds)',
    hash          String           COMMENT 'hash of the record in its chain',
    audit_topic   String           COMMENT 'audit topic the record was read from',
    audit_partition UInt16         COMMENT 'its partition',
    audit_offset  UInt64           COMMENT 'its offset',
    projected_at  DateTime         COMMENT 'when the projector wrote the row (UTC); the replacing version'
)
ENGINE = ReplacingMergeTree(projected_at)
ORDER BY audit_id;
