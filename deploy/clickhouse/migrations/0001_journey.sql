-- The walking skeleton's proof of travel: one row per declaration that went intake -> facts -> warehouse.
--
-- ReplacingMergeTree ordered by ticket, versioned by projected_at: a redelivered fact (the projection ran
-- again after a crash) replaces the earlier row at merge time instead of counting twice. Readers that need
-- exact counts before a merge use FINAL or argMax.
-- Kept within ClickHouse 18.16: plain types, no codecs, no TTL, no LowCardinality.

CREATE TABLE IF NOT EXISTS {database}.journey
(
    ticket          String   COMMENT 'platform ticket (UUID) given at intake',
    kind            String   COMMENT 'declaration kind, e.g. dimona, dmfa, civil, integration',
    sender          String   COMMENT 'sender id (enterprise number of the declarant or institution)',
    recorded_at     DateTime COMMENT 'when the sender recorded the declaration (UTC)',
    accepted_at     DateTime COMMENT 'when intake accepted it as a fact (UTC)',
    projected_at    DateTime COMMENT 'when the projection wrote this row (UTC); the replacing version',
    facts_topic     String   COMMENT 'facts topic the accepted fact was published on',
    facts_partition UInt16   COMMENT 'partition of that record',
    facts_offset    UInt64   COMMENT 'offset of that record'
)
ENGINE = ReplacingMergeTree(projected_at)
ORDER BY ticket;
