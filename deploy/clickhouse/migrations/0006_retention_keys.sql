-- Work table of `crossroads warehouse retention` (docs/warehouse.md, "Retention").
--
-- 18.16 has no TTL, so expired data is removed with `ALTER TABLE ... DELETE WHERE` mutations. A mutation
-- that decides what to delete from the table it is rewriting (relations that ended, persons who died)
-- would see a different answer part by part; so each run first writes the keys it will delete here, under
-- its run id, and the mutations then delete `WHERE key IN (SELECT key FROM retention_keys WHERE run = ...)`.
-- Keys are pseudonyms and codes, never a national number.

CREATE TABLE IF NOT EXISTS {database}.retention_keys
(
    run        String   COMMENT 'id of the retention run',
    scope      String   COMMENT 'what the key selects: relation, file or deceased',
    key        String   COMMENT 'the key of the rows to delete',
    decided_at DateTime COMMENT 'when the run decided it'
)
ENGINE = MergeTree
ORDER BY (run, scope, key);
