-- The pseudonym -> NISS mapping, in a database of its own: `<database>_reid`.
--
-- Written by the projector beside each pseudonymised row, read only by `crossroads warehouse reidentify`
-- (an authorized requester, a purpose, an audit record per call). It is never joined to statistics and
-- no analyst user may read it (streams/stack/templates/clickhouse-users.xml).

CREATE DATABASE IF NOT EXISTS {database}_reid;

CREATE TABLE IF NOT EXISTS {database}_reid.pseudonyms
(
    purpose    String   COMMENT 'purpose whose key made the pseudonym (e.g. statistics)',
    pseudonym  String   COMMENT 'HMAC-SHA256 pseudonym, 64 hex characters',
    person     String   COMMENT 'the NISS or BIS number it stands for',
    seen_at    DateTime COMMENT 'when the projector last wrote it; the replacing version'
)
ENGINE = ReplacingMergeTree(seen_at)
ORDER BY (purpose, pseudonym);
